// What a broadcast or market-data network sends besides plain multicast, end to end:
//   src eth0 (10.99.1.2, .3) --veth (MTU 9000)-- [in0 192.168.50.1] relay
//        [out0 10.77.0.1 · out9 10.79.0.1, MTU 9000] --veths-- dst eth0, eth9
// VLAN-tagged inputs, jumbo frames (both ring versions), IGMPv3 joins and leaves read off the
// wire, unicast in → multicast out, and an (S,G) source filter.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Lab } from "../lab/netns.ts";
import { BUN, ROOT, TestRelay, backlogDrops, expectExactlyOnce, runGen, startSink } from "./lib/relay.ts";
import { settled } from "./lib/settled.ts";
import { CLEAN, RECORD, capture, recordsFor, reports } from "./lib/wire.ts";

let lab: Lab;
let src: string, relay: string, dst: string;

beforeAll(() => {
  lab = Lab.create("pro");
  src = lab.ns("src");
  relay = lab.ns("rly");
  dst = lab.ns("dst");
  lab.veth({ ns: src, ifname: "eth0", addr: "10.99.1.2/24", mtu: 9000 }, { ns: relay, ifname: "in0", addr: "192.168.50.1/24", mtu: 9000 });
  lab.veth({ ns: relay, ifname: "out0", addr: "10.77.0.1/24" }, { ns: dst, ifname: "eth0", addr: "10.77.0.2/24" });
  lab.veth({ ns: relay, ifname: "out9", addr: "10.79.0.1/24", mtu: 9000 }, { ns: dst, ifname: "eth9", addr: "10.79.0.2/24", mtu: 9000 });
  lab.sh(src, ["ip", "addr", "add", "10.99.1.3/24", "dev", "eth0"]);
  // Software checksums on what the relay's sockets send, so the capture can check them.
  for (const o of ["out0", "out9"]) lab.offload(relay, o, "tx", false);
  lab.sh(src, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
  lab.sysctl(dst, "net.core.rmem_max", String(16 << 20));
  for (const k of ["all", "default", "in0"]) lab.sysctl(relay, `net.ipv4.conf.${k}.rp_filter`, "1");
});

afterAll(() => lab?.destroy());

const gen = (group: string, port: number, n: number, from: string[], size = 500) =>
  runGen(lab, src, ["--group", group, "--port", String(port), ...from, "--rate", "2000", "--size", String(size), "--count", String(n)]);
const sink = (group: string, port: number, iface: string, n: number) =>
  startSink(lab, dst, ["--group", group, "--port", String(port), "--interface", iface, "--expect", String(n)]);
/** n valid lab datagrams to 239.1.1.1:5000 tagged with the VLAN (tests/tools/inject.ts, no bad ones). */
async function tagged(vlan: number, n: number): Promise<void> {
  const p = lab.spawn(src, [BUN, "tests/tools/inject.ts", "--interface", "eth0", "--src", "10.99.1.2", "--group", "239.1.1.1", "--port", "5000",
    "--valid", String(n), "--each", "0", "--vlan", String(vlan), "--size", "500"], { cwd: ROOT });
  expect(await p.exited).toBe(0);
}
const ring = (v: string) => ({ env: { ...process.env, MCRELAY_TUNE_RING: v } as Record<string, string> });

describe("protocols", () => {
  test.each(["v3", "v2"])("VLANs 100 and 200 on one input go to their own rules, untagged to the rule without one; VLAN 300 is counted (%s ring)", async (v) => {
    const rule = (name: string, port: number, vlan?: number) => ({
      name, input: { interface: "in0", group: "239.1.1.1", port: 5000, ...(vlan ? { vlan } : {}) }, outputs: [{ interface: "out0", group: "239.2.2.2", port }],
    });
    const r = await TestRelay.start(lab, relay, { rules: [rule("v100", 6100, 100), rule("v200", 6200, 200), rule("untagged", 6000)] }, ring(v));
    try {
      const sinks = { v100: sink("239.2.2.2", 6100, "eth0", 1000), v200: sink("239.2.2.2", 6200, "eth0", 800), untagged: sink("239.2.2.2", 6000, "eth0", 600) };
      await Promise.all(Object.values(sinks).map((s) => s.ready));
      const before = r.stats().drops.vlan;
      const bl = backlogDrops();
      // Tagged frames from a raw socket (this kernel has no VLAN devices): the relay's kernel takes
      // the tag off into the ring's metadata, as a NIC with VLAN offload would.
      for (const [vlan, n] of [[100, 1000], [200, 800], [300, 300]]) await tagged(vlan, n);
      await gen("239.1.1.1", 5000, 600, ["--interface", "eth0"]);
      expectExactlyOnce(await sinks.v100.result, 1000, r, bl);
      expectExactlyOnce(await sinks.v200.result, 800, r, bl);
      expectExactlyOnce(await sinks.untagged.result, 600, r, bl);
      const s = await settled(() => r.stats(), (s) => s.drops.vlan - before >= 300);
      expect(s.rules.map((x) => [x.name, x.rxPackets])).toEqual([["v100", 1000], ["v200", 800], ["untagged", 600]]);
      expect(s.drops.vlan - before).toBe(300);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test.each(["v3", "v2"])("a 9,000-byte MTU: 8,972-byte payloads arrive byte-exact, once, unfragmented (%s ring)", async (v) => {
    const N = 1000;
    const r = await TestRelay.start(lab, relay, { rules: [{ name: "jumbo", input: { interface: "in0", group: "239.9.9.9", port: 5900 },
      outputs: [{ interface: "out9", group: "239.9.9.10", port: 6900 }, { interface: "out9", group: "239.9.9.11", port: 6901, send: "socket" }] }] }, ring(v));
    try {
      const sinks = [sink("239.9.9.10", 6900, "eth9", N), sink("239.9.9.11", 6901, "eth9", N)];
      const cap = capture(lab, dst, ["eth9"], 3000);
      await Promise.all(sinks.map((s) => s.ready));
      await cap.ready();
      const bl = backlogDrops();
      await runGen(lab, src, ["--group", "239.9.9.9", "--port", "5900", "--interface", "eth0", "--rate", "1000", "--size", "8972", "--count", String(N)]);
      for (const s of sinks) expectExactlyOnce(await s.result, N, r, bl);
      const wire = await cap.wire();
      expect(wire["239.9.9.10:6900"]).toMatchObject({ ...CLEAN, packets: N, unique: N });
      expect(wire["239.9.9.11:6901"]).toMatchObject({ ...CLEAN, packets: N, unique: N });
      const s = await settled(() => r.stats(), (s) => s.rules[0].txPackets === 2 * N);
      expect(s.rules[0]).toMatchObject({ rxPackets: N, rxBytes: N * 8972, txPackets: 2 * N });
      expect(s.drops.oversize).toBe(0);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("IGMPv3 on the wire: an SSM join is ALLOW {source}, an any-source one CHANGE_TO_EXCLUDE {}; deleting the rules sends BLOCK {source} and CHANGE_TO_INCLUDE {}", async () => {
    const join = reports(lab, src, "eth0", 3000);
    await join.ready();
    const r = await TestRelay.start(lab, relay, { rules: [
      { id: "ssm", input: { interface: "in0", group: "232.1.1.1", port: 5300, source: "10.99.1.2" }, outputs: [{ interface: "out0", group: "239.3.3.1", port: 6300 }] },
      { id: "asm", input: { interface: "in0", group: "239.7.7.7", port: 5301 }, outputs: [{ interface: "out0", group: "239.3.3.2", port: 6301 }] },
    ] });
    try {
      await r.apiReady();
      const joined = await join.reports();
      expect(recordsFor(joined, "232.1.1.1")[0]).toEqual([RECORD.ALLOW_NEW_SOURCES, ["10.99.1.2"]]);
      expect(recordsFor(joined, "239.7.7.7")[0]).toEqual([RECORD.CHANGE_TO_EXCLUDE, []]);
      expect(joined.filter((x) => x.records?.some((y) => y.group === "232.1.1.1")).every((x) => x.kind === "igmpv3" && x.src === "192.168.50.1")).toBe(true);
      const leave = reports(lab, src, "eth0", 2500);
      await leave.ready();
      for (const id of ["ssm", "asm"]) expect((await r.api("DELETE", `/api/v1/rules/${id}`)).status).toBe(204);
      const left = await leave.reports();
      expect(recordsFor(left, "232.1.1.1")[0]).toEqual([RECORD.BLOCK_OLD_SOURCES, ["10.99.1.2"]]);
      expect(recordsFor(left, "239.7.7.7")[0]).toEqual([RECORD.CHANGE_TO_INCLUDE, []]);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("unicast in, multicast out: datagrams to the relay's own address from an unroutable source", async () => {
    const mac = JSON.parse(lab.sh(relay, ["ip", "-j", "link", "show", "in0"]).stdout)[0].address as string;
    lab.sh(src, ["ip", "route", "replace", "192.168.50.0/24", "dev", "eth0"]);
    // No ARP answer comes back to an unroutable source (rp_filter): the sender is told the MAC.
    lab.sh(src, ["ip", "neigh", "replace", "192.168.50.1", "lladdr", mac, "dev", "eth0", "nud", "permanent"]);
    const r = await TestRelay.start(lab, relay, { rules: [{ name: "uni-in", input: { interface: "in0", group: "192.168.50.1", port: 5400, source: "10.99.1.2" },
      outputs: [{ interface: "out0", group: "239.8.8.8", port: 6400 }] }] });
    try {
      const s = sink("239.8.8.8", 6400, "eth0", 1000);
      await s.ready;
      const bl = backlogDrops();
      await gen("192.168.50.1", 5400, 1000, ["--source", "10.99.1.2"]);
      expectExactlyOnce(await s.result, 1000, r, bl);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("an (S,G) source filter passes its sender and drops another's, counted as no_rule", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [{ name: "sg", input: { interface: "in0", group: "239.6.6.6", port: 5500, source: "10.99.1.2" },
      outputs: [{ interface: "out0", group: "239.6.6.7", port: 6500 }] }] });
    try {
      const s = sink("239.6.6.7", 6500, "eth0", 500);
      await s.ready;
      const before = r.stats().drops.no_rule;
      await gen("239.6.6.6", 5500, 500, ["--source", "10.99.1.2"]);
      await gen("239.6.6.6", 5500, 300, ["--source", "10.99.1.3"]);
      const got = await s.result;
      expectExactlyOnce(got, 500, r);
      expect(got.received).toBe(500);
      const st = await settled(() => r.stats(), (x) => x.drops.no_rule - before >= 300);
      expect(st.rules[0]).toMatchObject({ rxPackets: 500, txPackets: 500 });
      expect(st.drops.no_rule - before).toBe(300);
    } finally {
      await r.stop();
    }
  }, 60_000);
});
