import { expect, test } from "bun:test";
import { parseIpv4 } from "../../rules/ipv4.ts";
import { namespaceResolv } from "./resolv.ts";
import { overlaps, pickSubnet, type Prefix } from "./subnet.ts";

const p = (s: string): Prefix => ({ base: parseIpv4(s.split("/")[0]!)!, bits: Number(s.split("/")[1] ?? 32) });

test("overlaps", () => {
  expect(overlaps(p("10.213.0.0/16"), p("10.213.4.4/30"))).toBe(true);
  expect(overlaps(p("10.213.4.6"), p("10.213.4.4/30"))).toBe(true);
  expect(overlaps(p("10.213.4.8/30"), p("10.213.4.4/30"))).toBe(false);
  expect(overlaps(p("10.0.0.0/8"), p("192.168.213.0/30"))).toBe(false);
});

test("the /30 picked overlaps nothing the host has, and the next range is used when one is taken whole", () => {
  expect(pickSubnet([], () => 0)).toEqual({ cidr: "10.213.0.0/30", host: "10.213.0.1", inside: "10.213.0.2" });
  expect(pickSubnet([p("10.213.0.0/29")], () => 0)!.cidr).toBe("10.213.0.8/30");
  expect(pickSubnet([p("10.0.0.0/8")], () => 0)!.cidr).toBe("172.30.213.0/30");
  expect(pickSubnet([p("10.0.0.0/8"), p("172.16.0.0/12"), p("192.168.0.0/16")])).toBeNull();
});

test("the namespace gets a resolv.conf only when the host's resolver is on loopback", () => {
  expect(namespaceResolv("nameserver 10.255.255.53\n", null)).toBeNull();
  expect(namespaceResolv("nameserver 127.0.0.53\noptions edns0\n", "nameserver 192.0.2.53\nnameserver 127.0.0.1\n"))
    .toEqual({ conf: expect.stringContaining("\nnameserver 192.0.2.53\n") });
  expect(namespaceResolv("nameserver 127.0.0.1\n", null)).toEqual({ problem: expect.stringContaining("127.0.0.1 (loopback)") });
});
