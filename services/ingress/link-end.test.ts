// Table-driven: frames in, the channel they go to out.
import { describe, expect, test } from "bun:test";
import type { IngressFlow } from "../protocol/worker.ts";
import { LinkEnd } from "./link-end.ts";

const any = { family: 0, prefix: [], bits: 0, protocol: -1, portLo: -1, portHi: -1 };
const flow = (no: number, f: Partial<IngressFlow>): IngressFlow => ({ ...any, no, ...f });

function eth(type: number, l3: number[], vlan = false): Uint8Array {
  const head = [...Array(12).fill(0xaa), ...(vlan ? [0x81, 0x00, 0x00, 0x05] : []), type >> 8, type & 0xff];
  return new Uint8Array([...head, ...l3]);
}
function ipv4(proto: number, src: number[], dst: number[], l4: number[], frag = 0): number[] {
  return [0x45, 0xb8, 0, 20 + l4.length, 0, 0, frag >> 8, frag & 0xff, 64, proto, 0, 0, ...src, ...dst, ...l4];
}
function ipv6(next: number, src: number[], dst: number[], l4: number[]): number[] {
  return [0x6b, 0x80, 0, 0, 0, l4.length, next, 64, ...src, ...dst, ...l4];
}
const ports = (s: number, d: number) => [s >> 8, s & 0xff, d >> 8, d & 0xff, 0, 8, 0, 0];
const v6a = [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1];
const v6b = [0xfd, 0, ...Array(13).fill(0), 2];

const end = new LinkEnd({
  ifname: "a", no: 100, down: false, flows: [
    flow(1, { protocol: 17, portLo: 53, portHi: 53 }),
    flow(2, { family: 4, prefix: [10, 0, 0, 0], bits: 8, protocol: 6, portLo: 80, portHi: 443 }),
    flow(3, { family: 6, prefix: [0x20, 0x01, 0x0d, 0xb8, ...Array(12).fill(0)], bits: 32 }),
    flow(4, { protocol: 1 }),
  ],
});

describe("link flows", () => {
  test.each([
    ["UDP to port 53", eth(0x0800, ipv4(17, [192, 168, 0, 1], [192, 168, 0, 2], ports(40000, 53))), 1],
    ["UDP from port 53", eth(0x0800, ipv4(17, [192, 168, 0, 1], [192, 168, 0, 2], ports(53, 40000))), 1],
    ["UDP to 54", eth(0x0800, ipv4(17, [192, 168, 0, 1], [192, 168, 0, 2], ports(40000, 54))), 100],
    ["TCP 443 to 10/8", eth(0x0800, ipv4(6, [192, 168, 0, 1], [10, 9, 9, 9], ports(50000, 443))), 2],
    ["TCP 443 from 10/8, in a VLAN tag", eth(0x0800, ipv4(6, [10, 1, 1, 1], [192, 168, 0, 2], ports(443, 50000)), true), 2],
    ["TCP 8080 to 10/8", eth(0x0800, ipv4(6, [192, 168, 0, 1], [10, 9, 9, 9], ports(50000, 8080))), 100],
    ["TCP 443 elsewhere", eth(0x0800, ipv4(6, [192, 168, 0, 1], [11, 9, 9, 9], ports(50000, 443))), 100],
    ["a later fragment of UDP 53 (no ports)", eth(0x0800, ipv4(17, [192, 168, 0, 1], [192, 168, 0, 2], ports(40000, 53), 0x0010)), 100],
    ["IPv6 from 2001:db8::/32", eth(0x86dd, ipv6(6, v6a, v6b, ports(1, 2))), 3],
    ["IPv6 UDP 53 (flow 1 comes first)", eth(0x86dd, ipv6(17, v6b, v6a, ports(1, 53))), 1],
    ["IPv6 elsewhere", eth(0x86dd, ipv6(6, v6b, v6b, ports(1, 2))), 100],
    ["ICMP", eth(0x0800, ipv4(1, [1, 1, 1, 1], [2, 2, 2, 2], [8, 0, 0, 0])), 4],
    ["ARP", eth(0x0806, Array(28).fill(0)), 100],
    ["a runt", new Uint8Array(8), 100],
  ])("%s", (_what, frame, want) => {
    expect(end.classify(frame, 0, frame.length)).toBe(want);
  });

  test("the TOS byte comes out for the class queues; an empty match takes everything", () => {
    const f = eth(0x0800, ipv4(6, [1, 1, 1, 1], [2, 2, 2, 2], ports(1, 2)));
    end.classify(f, 0, f.length);
    expect(end.tos).toBe(0xb8);
    const all = new LinkEnd({ ifname: "a", no: 7, down: false, flows: [flow(9, {})] });
    expect(all.classify(new Uint8Array(8), 0, 8)).toBe(9);
    expect(new LinkEnd({ ifname: "a", no: 7, down: false, flows: [] }).classify(f, 0, f.length)).toBe(7);
  });
});
