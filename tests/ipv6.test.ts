// IPv6 end to end, in namespaces with IPv6 on (duplicate address detection off):
//   src (10.99.1.2, fd00:99::2 and ::3) --veth-- [in0 192.168.50.1, fd00:50::1] relay
//        [out0 10.77.0.1, fd00:77::1 · out1 10.78.0.1, fd00:78::1] --veths-- dst eth0, eth1
// The relay has no route back to fd00:99::/64 (nor to 10.99.1.0/24, with rp_filter=1): only
// AF_PACKET sees the streams. Each test reads the wire on the far side too: hop limit, traffic
// class, checksums, the group's MAC; and the MLDv2 reports of the relay's joins on in0's far end.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Lab } from "../lab/netns.ts";
import { BUN, ROOT, TestRelay, backlogDrops, expectExactlyOnce, runGen, startSink } from "./lib/relay.ts";
import { settled } from "./lib/settled.ts";
import { CLEAN, RECORD, capture, recordsFor, reports } from "./lib/wire.ts";

let lab: Lab;
let src: string, relay: string, dst: string;

beforeAll(() => {
  lab = Lab.create("v6", { ipv6: true });
  src = lab.ns("src");
  relay = lab.ns("rly");
  dst = lab.ns("dst");
  lab.veth({ ns: src, ifname: "eth0", addr: "10.99.1.2/24", addr6: "fd00:99::2/64", mtu: 9000 },
    { ns: relay, ifname: "in0", addr: "192.168.50.1/24", addr6: "fd00:50::1/64", mtu: 9000 });
  lab.sh(src, ["ip", "-6", "addr", "add", "fd00:99::3/64", "dev", "eth0", "nodad"]);
  lab.veth({ ns: relay, ifname: "out0", addr: "10.77.0.1/24", addr6: "fd00:77::1/64" }, { ns: dst, ifname: "eth0", addr: "10.77.0.2/24", addr6: "fd00:77::2/64" });
  lab.veth({ ns: relay, ifname: "out1", addr: "10.78.0.1/24", addr6: "fd00:78::1/64" }, { ns: dst, ifname: "eth1", addr: "10.78.0.2/24", addr6: "fd00:78::2/64" });
  // Software checksums on what the relay's sockets send, so the capture can check them.
  for (const o of ["out0", "out1"]) lab.offload(relay, o, "tx", false);
  lab.sh(src, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
  lab.sysctl(dst, "net.core.rmem_max", String(8 << 20));
  for (const k of ["all", "default", "in0"]) lab.sysctl(relay, `net.ipv4.conf.${k}.rp_filter`, "1");
});

afterAll(() => lab?.destroy());

const gen = (group: string, port: number, n: number, extra: string[] = []) =>
  runGen(lab, src, ["--group", group, "--port", String(port), ...(extra.includes("--source") ? [] : ["--interface", "eth0"]), "--rate", "2000", "--size", "1000", "--count", String(n), ...extra]);
const sink = (group: string, port: number, iface: string, n: number) =>
  startSink(lab, dst, ["--group", group, "--port", String(port), "--interface", iface, "--expect", String(n)]);

describe("IPv6", () => {
  test.each(["raw", "socket"])("1:2 fan-out across an unroutable source (send %s): exactly once, byte-exact; hop limit, traffic class, checksums, MAC as set", async (send) => {
    expect(lab.sh(relay, ["ip", "-6", "route", "get", "fd00:99::2"]).code).not.toBe(0); // the premise
    const N = 2000;
    const outputs = [
      { interface: "out0", group: "ff0e::2:1", port: 6000, ttl: 5, dscp: 46, send },
      { interface: "out1", group: "ff0e::2:2", port: 6001, ttl: 9, dscp: 10, send },
    ];
    const r = await TestRelay.start(lab, relay, { rules: [{ name: "six", input: { interface: "in0", group: "ff0e::1:1", port: 5000 }, outputs }] });
    try {
      const sinks = [sink("ff0e::2:1", 6000, "eth0", N), sink("ff0e::2:2", 6001, "eth1", N)];
      const cap = capture(lab, dst, ["eth0", "eth1"], 3500);
      await Promise.all(sinks.map((s) => s.ready));
      await cap.ready();
      const bl = backlogDrops();
      await gen("ff0e::1:1", 5000, N);
      for (const s of sinks) {
        const got = await s.result;
        expectExactlyOnce(got, N, r, bl);
        expect(got.senders).toHaveLength(1);
      }
      const wire = await cap.wire();
      expect(wire["[ff0e::2:1]:6000"]).toMatchObject({ ...CLEAN, packets: N, unique: N, ttl: [5], tos: [46 << 2], src: ["fd00:77::1"], zeroUdpSum: 0 });
      expect(wire["[ff0e::2:2]:6001"]).toMatchObject({ ...CLEAN, packets: N, unique: N, ttl: [9], tos: [10 << 2], src: ["fd00:78::1"], zeroUdpSum: 0 });
      const s = await settled(() => r.stats(), (s) => s.rules[0].txPackets === 2 * N);
      expect(s.rules[0]).toMatchObject({ rxPackets: N, rxBytes: N * 1000, txPackets: 2 * N, txBytes: 2 * N * 1000 });
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("IPv4 in, IPv6 out (multicast raw, unicast by socket), and IPv6 in, IPv4 out: the payload is what is relayed", async () => {
    const N = 1000;
    const rules = [
      { name: "4to6", input: { interface: "in0", group: "239.1.1.1", port: 5001 }, outputs: [
        { interface: "out0", group: "ff0e::3:1", port: 6100, ttl: 4 },
        { interface: "out1", group: "fd00:78::2", port: 6101, dscp: "preserve" as const },
      ] },
      { name: "6to4", input: { interface: "in0", group: "ff0e::1:2", port: 5002 }, outputs: [{ interface: "out0", group: "239.3.3.3", port: 6200, ttl: 6 }] },
    ];
    const r = await TestRelay.start(lab, relay, { rules });
    try {
      const sinks = [sink("ff0e::3:1", 6100, "eth0", N), sink("fd00:78::2", 6101, "eth1", N), sink("239.3.3.3", 6200, "eth0", N)];
      const cap = capture(lab, dst, ["eth0", "eth1"], 3000);
      await Promise.all(sinks.map((s) => s.ready));
      await cap.ready();
      const bl = backlogDrops();
      await Promise.all([gen("239.1.1.1", 5001, N), gen("ff0e::1:2", 5002, N)]);
      for (const s of sinks) expectExactlyOnce(await s.result, N, r, bl);
      const wire = await cap.wire();
      expect(wire["[ff0e::3:1]:6100"]).toMatchObject({ ...CLEAN, packets: N, ttl: [4], src: ["fd00:77::1"] });
      expect(wire["[fd00:78::2]:6101"]).toMatchObject({ ...CLEAN, packets: N, ttl: [16], tos: [0], src: ["fd00:78::1"] });
      expect(wire["239.3.3.3:6200"]).toMatchObject({ ...CLEAN, packets: N, ttl: [6], src: ["10.77.0.1"] });
    } finally {
      await r.stop();
    }
  }, 60_000);

  test.each(["raw", "socket"])('dscp "preserve" from IPv4 to IPv6 (send %s): the traffic class is the input\'s TOS byte, per packet', async (send) => {
    const r = await TestRelay.start(lab, relay, { rules: [{ name: "keep", input: { interface: "in0", group: "239.1.1.1", port: 5005 },
      outputs: [{ interface: "out0", group: "ff0e::5:1", port: 6500, dscp: "preserve", send }] }] });
    try {
      const cap = capture(lab, dst, ["eth0"], 2000);
      await cap.ready();
      // 200 datagrams with TOS 0xb9 (DSCP 46, ECN 1) from a raw socket, among malformed frames that are dropped.
      const p = lab.spawn(src, [BUN, "tests/tools/inject.ts", "--interface", "eth0", "--src", "10.99.1.2", "--group", "239.1.1.1", "--port", "5005", "--tos", "185"], { cwd: ROOT });
      expect(await p.exited).toBe(0);
      expect((await cap.wire())["[ff0e::5:1]:6500"]).toMatchObject({ ...CLEAN, packets: 200, unique: 200, tos: [0xb9] });
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("ESP is relayed whole, as ESP, to an IPv4 and an IPv6 group (raw IP sockets); UDP to the same group is not the rule's", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [{ name: "esp", input: { interface: "in0", group: "239.1.1.50", protocol: "esp" },
      outputs: [{ interface: "out0", group: "239.5.0.50", ttl: 7, dscp: 34 }, { interface: "out1", group: "ff0e::5:50", ttl: 3 }] }] });
    try {
      const cap = capture(lab, dst, ["eth0", "eth1"], 2500);
      await cap.ready();
      const before = r.stats().drops;
      const p = lab.spawn(src, [BUN, "tests/tools/inject.ts", "--interface", "eth0", "--src", "10.99.1.2", "--group", "239.1.1.50", "--port", "5006",
        "--valid", "300", "--each", "0", "--protocol", "50", "--size", "600"], { cwd: ROOT });
      expect(await p.exited).toBe(0);
      await gen("239.1.1.50", 5006, 100);
      const wire = await cap.wire();
      expect(wire["239.5.0.50 proto 50"]).toMatchObject({ ...CLEAN, packets: 300, unique: 300, ttl: [7], tos: [34 << 2], src: ["10.77.0.1"] });
      expect(wire["[ff0e::5:50] proto 50"]).toMatchObject({ ...CLEAN, packets: 300, unique: 300, ttl: [3], tos: [0], src: ["fd00:78::1"] });
      const s = await settled(() => r.stats(), (s) => s.rules[0].txPackets === 600 && s.drops.no_rule - before.no_rule >= 100);
      expect(s.rules[0]).toMatchObject({ rxPackets: 300, rxBytes: 300 * 600, txPackets: 600, txBytes: 600 * 600 });
      expect(s.drops.no_rule - before.no_rule).toBe(100); // the UDP datagrams: no UDP rule takes the group
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("an SSM rule joins with MLDv2 INCLUDE {source} (read off the wire), passes its source, drops (and counts) another; deleting it sends the leave", async () => {
    const group = "ff3e::8000:1";
    const join = reports(lab, src, "eth0", 3000);
    await join.ready();
    const r = await TestRelay.start(lab, relay, { rules: [
      { id: "ssm", input: { interface: "in0", group, port: 5003, source: "fd00:99::2" }, outputs: [{ interface: "out0", group: "ff0e::4:1", port: 6300 }] },
      { id: "asm", input: { interface: "in0", group: "ff0e::1:3", port: 5004 }, outputs: [{ interface: "out0", group: "ff0e::4:2", port: 6301 }] },
    ] });
    try {
      await r.apiReady();
      const joined = await join.reports();
      // A source-specific join is an INCLUDE change naming the source; an any-source one an EXCLUDE {}.
      expect(recordsFor(joined, group)[0]).toEqual([RECORD.ALLOW_NEW_SOURCES, ["fd00:99::2"]]);
      expect(recordsFor(joined, "ff0e::1:3")[0]).toEqual([RECORD.CHANGE_TO_EXCLUDE, []]);
      expect(joined.filter((x) => x.records?.some((y) => y.group === group)).every((x) => x.kind === "mldv2" && x.src.startsWith("fe80:"))).toBe(true);

      const N = 500;
      const s = sink("ff0e::4:1", 6300, "eth0", N);
      await s.ready;
      const before = r.stats().drops.no_rule;
      await gen(group, 5003, N, ["--source", "fd00:99::2"]);
      await gen(group, 5003, 300, ["--source", "fd00:99::3"]);
      expectExactlyOnce(await s.result, N, r);
      const st = await settled(() => r.stats(), (x) => x.drops.no_rule - before >= 300);
      expect(st.rules.find((x) => x.id === "ssm")).toMatchObject({ rxPackets: N, txPackets: N });
      expect(st.drops.no_rule - before).toBe(300);

      const leave = reports(lab, src, "eth0", 2500);
      await leave.ready();
      expect((await r.api("DELETE", "/api/v1/rules/ssm")).status).toBe(204);
      expect(recordsFor(await leave.reports(), group)[0]).toEqual([RECORD.BLOCK_OLD_SOURCES, ["fd00:99::2"]]);
    } finally {
      await r.stop();
    }
  }, 60_000);
});
