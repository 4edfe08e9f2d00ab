// The configuration planner without processes: rules and interfaces in, states and worker
// messages out.
import { describe, expect, test } from "bun:test";
import { MAX_MESSAGE_BYTES, type EgressConfigMsg, type IngressConfigMsg } from "../protocol/worker.ts";
import { applyDelta, cut, delta, egressRules, ingressRules, pinnedInputs, sharedInputs, splitRules, type OutputFacts } from "./configure.ts";
import { socketKey } from "./egress-sockets.ts";
import { DesiredRules, type IdentifiedRule } from "./desired.ts";
import type { Netdev } from "./netdevs.ts";
import { RuleNumbers } from "./numbers.ts";
import { makePlan } from "./plan.ts";

const netdev = (ifindex: number, up = true, addr = "10.0.0.1", mac = "02:00:00:00:00:0" + ifindex, addr6 = ""): Netdev => ({ ifindex, up, addr, addr6, broadcast: (10 << 24) + 255, mtu: 1500, mac });
const facts: OutputFacts = { socketKey, sourcePort: () => 40000, row: (no, i) => no * 2 + i };
const netdevs = (o: Record<string, Netdev>) => new Map(Object.entries(o));
const rule = (id: string, port: number, extra: Partial<IdentifiedRule> = {}): IdentifiedRule => ({
  id, input: { interface: "in0", group: "239.1.1.1", port }, outputs: [{ interface: "out0", group: "239.2.2.2", port: port + 1000, ttl: 16, dscp: 0 }],
  traceSampleRatio: 0, ...extra,
});
const numbered = (rules: IdentifiedRule[]) => {
  const n = new RuleNumbers(100);
  for (const r of rules) n.take(r.id);
  return (id: string) => n.get(id)!;
};

describe("redundant rules", () => {
  const red = (id: string, a: string, b: string, port: number): IdentifiedRule => ({ ...rule(id, port), input: undefined,
    inputs: [{ interface: a, group: "239.1.1.1", port }, { interface: b, group: "239.1.1.2", port }], redundancy: { mode: "rtp", windowMs: 10, windowPackets: 64, silentMs: 200 } });
  const devs = netdevs({ a0: netdev(2), b0: netdev(3), c0: netdev(4, false), in0: netdev(5), out0: netdev(6) });

  test("a rule's paths: ingress matches the others as `also`; active while one input is up; egress merges in one pair", () => {
    const rules = [red("ab", "a0", "b0", 10), red("ac", "a0", "c0", 11), rule("plain", 12)];
    const p = makePlan(rules, numbered(rules), devs);
    expect(p.rules.map((r) => [r.id, r.state, r.reason ?? ""])).toEqual([["ab", "active", ""], ["ac", "active", "input c0 down: merging the others"], ["plain", "active", ""]]);
    expect(ingressRules(p).find((r) => r.no === 0)!.also).toEqual([{ ifname: "b0", vlan: 0, group: "239.1.1.2", port: 10, source: "" }]);
    expect([...p.inputs.keys()].sort()).toEqual(["a0", "b0", "in0"]);
    const eg = egressRules(p, () => true, facts, () => true, { workers: 4, pair: 0, split: false });
    const pair = pinnedInputs(p, 4);
    // a0, b0 and c0 are one set (the rules join them): one pair reads all three
    expect(new Set([pair.get("a0"), pair.get("b0"), pair.get("c0")]).size).toBe(1);
    expect(pair.has("in0")).toBe(false);
    expect(eg.filter((r) => r.redundancy).map((r) => [r.redundancy!.paths, r.redundancy!.pair, r.redundancy!.id])).toEqual([[2, pair.get("a0")!, "ab"], [2, pair.get("a0")!, "ac"]]);
    expect(pinnedInputs(p, 1).size).toBe(0); // one pair reads everything
  });
});

describe("plan", () => {
  test("states: active, waiting for a missing interface, down with its input or every output down", () => {
    const rules = [rule("ok", 1), rule("waits", 2, { outputs: [{ interface: "gone0", group: "239.2.2.2", port: 9, ttl: 1, dscp: 0 }] }),
      rule("in-down", 3, { input: { interface: "in1", group: "239.1.1.1", port: 3 } }),
      rule("out-down", 4, { outputs: [{ interface: "out1", group: "239.2.2.2", port: 9, ttl: 1, dscp: 0 }] })];
    const p = makePlan(rules, numbered(rules), netdevs({ in0: netdev(2), in1: netdev(3, false), out0: netdev(4), out1: netdev(5, false) }));
    expect(p.rules.map((r) => [r.id, r.state, r.reason ?? ""])).toEqual([
      ["ok", "active", ""],
      ["waits", "waiting", "waiting for interface gone0"],
      ["in-down", "down", "input in1 is down"],
      ["out-down", "down", "every output is down (out1)"],
    ]);
    expect([...p.inputs]).toEqual([["in0", 2]]);
    // Ingress matches the rules whose input is open (the one with no output counts rule_down);
    // egress sends for those with an output.
    expect(ingressRules(p).map((r) => [r.no, r.down])).toEqual([[0, false], [3, true]]);
    expect(egressRules(p, () => true, facts).map((r) => r.no)).toEqual([0]);
  });

  test("an output that did not open is left out of egress's rule", () => {
    const rules = [rule("two", 1, { outputs: [{ interface: "out0", group: "239.2.2.2", port: 9, ttl: 1, dscp: 0 }, { interface: "out0", group: "239.2.2.3", port: 9, ttl: 1, dscp: "preserve" }] })];
    const p = makePlan(rules, numbered(rules), netdevs({ in0: netdev(2), out0: netdev(4) }));
    const [e] = egressRules(p, (o) => o.addr !== "239.2.2.3", facts);
    expect(e.outputs).toHaveLength(1);
    expect(e.cls).toBe(-1); // one output copies the input's DSCP: classes come from each packet
  });

  test("multicast outputs go raw by default, on one packet socket per interface, with the header they need", () => {
    const outputs = [
      { interface: "out0", group: "239.2.2.2", port: 9, ttl: 3, dscp: 46 },
      { interface: "out0", group: "239.2.2.3", port: 9, ttl: 1, dscp: "preserve" as const, udpChecksum: false },
      { interface: "out0", group: "239.2.2.4", port: 9, ttl: 1, dscp: 0, send: "socket" as const },
      { interface: "out0", group: "10.0.0.9", port: 9, ttl: 1, dscp: 0 },
      { interface: "lo", group: "239.2.2.5", port: 9, ttl: 1, dscp: 0 },
    ];
    const rules = [rule("r", 1, { outputs })];
    const p = makePlan(rules, numbered(rules), netdevs({ in0: netdev(2), out0: { ...netdev(4), mtu: 1400 }, lo: netdev(1, true, "127.0.0.1", "") }));
    const [e] = egressRules(p, () => true, facts);
    expect(e.outputs.map((o) => [o.socket.startsWith("raw:") ? o.socket : "udp", !!o.raw, o.row, o.maxPayload])).toEqual([
      ["raw:out0#4", true, 0, 1372], ["raw:out0#4", true, 1, 1372], ["udp", false, 2, 1372], ["udp", false, 3, 1372],
      ["udp", false, 4, 1472], // lo is not Ethernet: through its socket
    ]);
    expect(e.outputs[0].raw).toEqual({ srcMac: "02:00:00:00:00:04", src: "10.0.0.1", dst: "239.2.2.2",
      sport: 40000, dport: 9, ttl: 3, dscp: 46, preserve: false, checksum: true });
    expect(e.outputs[1].raw).toMatchObject({ preserve: true, checksum: false });
    // Ingress sums the payloads of a rule with a raw, checksummed output as it copies them.
    expect(ingressRules(p)[0].sum).toBe(true);
  });

  test("IPv6 in and out, either way: canonical addresses, raw only with an IPv6 address, 48 header bytes, the checksum always", () => {
    const outputs = [
      { interface: "out0", group: "FF0E:0:0::1:2", port: 9, ttl: 3, dscp: 46 },
      { interface: "out0", group: "ff0e::1:3", port: 9, ttl: 1, dscp: "preserve" as const, send: "socket" as const },
      { interface: "out1", group: "ff0e::1:4", port: 9, ttl: 1, dscp: 0 }, // out1 has no IPv6 address: socket
      { interface: "out0", group: "239.2.2.2", port: 9, ttl: 1, dscp: 0 },
    ];
    const rules = [rule("six", 1, { input: { interface: "in0", group: "ff3e:0::8000:1", port: 1, source: "2001:DB8::2", vlan: 100 }, outputs })];
    const p = makePlan(rules, numbered(rules), netdevs({ in0: netdev(2), out0: netdev(4, true, "10.0.0.1", "02:00:00:00:00:04", "2001:db8:1::1"), out1: netdev(5) }));
    expect(ingressRules(p)[0]).toMatchObject({ group: "ff3e::8000:1", source: "2001:db8::2", vlan: 100, sum: true });
    const [e] = egressRules(p, () => true, facts);
    expect(e.outputs.map((o) => [o.socket.startsWith("raw:") ? o.socket : "udp", !!o.raw, o.v6 ?? false, o.maxPayload])).toEqual([
      ["raw:out0#4", true, true, 1452], ["udp", false, true, 1452], ["udp", false, true, 1452], ["raw:out0#4", true, false, 1472],
    ]);
    expect(e.outputs[0].raw).toEqual({ srcMac: "02:00:00:00:00:04", src: "2001:db8:1::1", dst: "ff0e::1:2",
      sport: 40000, dport: 9, ttl: 3, dscp: 46, preserve: false, checksum: true });
    expect(e.outputs[3].raw).toMatchObject({ src: "10.0.0.1", dst: "239.2.2.2" });
  });

  test("a rule of another protocol (ESP): matched by protocol, never raw, an IP header's room in the MTU", () => {
    const outputs = [{ interface: "out0", group: "239.2.2.2", ttl: 3, dscp: 0 }, { interface: "out0", group: "ff0e::2", ttl: 3, dscp: 0 }];
    const rules = [rule("esp", 1, { input: { interface: "in0", group: "239.1.1.1", protocol: "esp" }, outputs })];
    const p = makePlan(rules, numbered(rules), netdevs({ in0: netdev(2), out0: netdev(4, true, "10.0.0.1", "02:00:00:00:00:04", "2001:db8:1::1") }));
    expect(ingressRules(p)[0]).toMatchObject({ protocol: 50, port: 0, sum: false });
    const [e] = egressRules(p, () => true, facts);
    expect(e.outputs.map((o) => [o.socket.split("|")[0], !!o.raw, o.maxPayload])).toEqual([["ip50", false, 1480], ["ip50", false, 1460]]);
  });
});

describe("split rules (MCRELAY_TUNE_SPLIT=on)", () => {
  const outs = (n: number, port: number) => Array.from({ length: n }, (_, i) => ({ interface: "out0", group: `239.2.2.${i + 1}`, port: port + i, ttl: 1, dscp: 0 }));
  const devs = netdevs({ in0: netdev(2), in1: netdev(3), out0: netdev(4) });
  const two = (pair: number) => ({ workers: 2, pair, split: true });

  test("with two pairs a rule of 4 outputs or more has them shared out: egress p sends index ≡ p mod 2; every input is read whole by both", () => {
    const rules = [rule("wide", 1, { outputs: outs(5, 100) }), rule("narrow", 2, { outputs: outs(3, 200) }),
      rule("impaired", 3, { outputs: outs(4, 300), impairment: { loss: 0.1 } }), rule("other-if", 4, { input: { interface: "in1", group: "239.1.1.1", port: 4 } })];
    const p = makePlan(rules, numbered(rules), devs);
    expect([...splitRules(p, two(0))]).toEqual([0]);
    expect([...splitRules(p, { workers: 1, split: true })]).toEqual([]); // one pair sends everything anyway
    expect([...splitRules(p, { workers: 2, split: false })]).toEqual([]); // the default
    // Every input, not only those of split rules: a rule that comes or goes never reopens an input.
    expect([...sharedInputs(p, two(0))].sort()).toEqual(["in0", "in1"]);
    expect(sharedInputs(p, { workers: 2, split: false }).size).toBe(0);
    const sent = (pair: number) => Object.fromEntries(egressRules(p, () => true, facts, () => true, two(pair)).map((r) => [r.no, r.outputs.map((o) => o.row - r.no * 2)]));
    expect(sent(0)).toEqual({ 0: [0, 2, 4], 1: [0, 1, 2], 2: [0, 1, 2, 3], 3: [0] });
    expect(sent(1)).toEqual({ 0: [1, 3], 1: [0, 1, 2], 2: [0, 1, 2, 3], 3: [0] }); // the others whole on either: a flow may land on any pair
    expect(ingressRules(p, two(1)).map((r) => [r.no, r.split ?? false])).toEqual([[0, true], [1, false], [2, false], [3, false]]);
  });

  test("a redundant rule's inputs are pinned to one pair: not shared, and their rules are not split", () => {
    const red: IdentifiedRule = { ...rule("ab", 10, { outputs: outs(4, 400) }), input: undefined,
      inputs: [{ interface: "in0", group: "239.1.1.1", port: 10 }, { interface: "in1", group: "239.1.1.2", port: 10 }], redundancy: { mode: "rtp", windowMs: 10, windowPackets: 64, silentMs: 200 } };
    const wide = rule("wide", 11, { outputs: outs(4, 500) }); // on in0, pinned by the redundant rule
    const p = makePlan([red, wide], numbered([red, wide]), devs);
    expect([...splitRules(p, two(0))]).toEqual([]);
    expect(sharedInputs(p, two(0)).size).toBe(0);
  });
});

describe("deltas", () => {
  test("only what changed is put, only what is gone is removed; applying it makes the tables equal", () => {
    const have = new Map([[1, { no: 1, v: "a" }], [2, { no: 2, v: "b" }], [3, { no: 3, v: "c" }]]);
    const want = [{ no: 1, v: "a" }, { no: 2, v: "B" }, { no: 4, v: "d" }];
    const d = delta(have, want);
    expect(d).toEqual({ put: [{ no: 2, v: "B" }, { no: 4, v: "d" }], remove: [3] });
    applyDelta(have, d);
    expect([...have.values()]).toEqual(expect.arrayContaining(want));
    expect(have.size).toBe(3);
    expect(delta(have, want)).toEqual({ put: [], remove: [] });
  });

  test("16,384 rules cut into parts within the channel's limits, the last one marked, nothing lost", () => {
    const put = Array.from({ length: 16384 }, (_, i) => ({ no: i, outputs: [{ socket: `out0#4|10.0.0.1|${i}|6000|16|0`, row: i, maxPayload: 1472, preserve: false }], cls: 0 }));
    const sockets = Array.from({ length: 600 }, (_, i) => ({ key: `k${i}`, fd: 1000 + i }));
    const parts = cut<EgressConfigMsg>(7, { sockets, put, remove: [1, 2] }, 250);
    expect(parts.length).toBeGreaterThan(3);
    for (const p of parts) {
      expect(JSON.stringify(p.msg).length).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expect(p.fds.length).toBeLessThanOrEqual(250);
      for (const s of p.msg.sockets ?? []) expect(p.fds[s.fd]).toBe(1000 + Number(s.key.slice(1)));
    }
    expect(parts.map((p) => p.msg.last)).toEqual([...Array(parts.length - 1).fill(false), true]);
    expect(parts.flatMap((p) => p.msg.put ?? [])).toEqual(put);
    expect(parts.flatMap((p) => p.msg.sockets ?? []).map((s) => s.key)).toEqual(sockets.map((s) => s.key));
    expect(parts.flatMap((p) => p.msg.remove ?? [])).toEqual([1, 2]);
  });

  test("ingress's inputs travel whole in the last part, with their own fds", () => {
    const parts = cut<IngressConfigMsg>(3, { put: [], remove: [] }, 250, { inputs: [{ ifname: "in0", fd: 0 }] }, [42]);
    expect(parts.at(-1)).toEqual({ msg: { type: "config", version: 3, last: true, inputs: [{ ifname: "in0", fd: 0 }] } as never, fds: [42] });
  });
});

describe("desired rules", () => {
  const ok = netdevs({ in0: netdev(2), out0: netdev(4, true, "10.0.0.1") });

  test("a change is checked whole: a clash, a broadcast output, too many rules — nothing is taken", () => {
    const d = new DesiredRules();
    const n = new RuleNumbers(2);
    const first = d.check([rule("a", 1)], [], n, ok);
    expect("rules" in first).toBe(true);
    if ("rules" in first) d.apply(first.rules, []);
    n.take("a");
    expect(d.check([rule("b", 1)], [], n, ok)).toEqual({ issues: [{ id: "b", path: ["input"], message: "input in0 239.1.1.1:1 is already used by rule a" }] });
    const bc = d.check([rule("c", 2, { outputs: [{ interface: "out0", group: "10.0.0.255", port: 9, ttl: 1, dscp: 0 }] })], [], n, ok);
    expect(bc).toMatchObject({ issues: [{ id: "c", path: ["outputs", 0, "group"], message: expect.stringContaining("broadcast address of out0") }] });
    expect(d.check([rule("x", 3), rule("y", 4)], [], n, ok)).toMatchObject({ issues: [{ message: expect.stringContaining("at most 2 rules") }] });
    expect(d.check([{ ...rule("t", 5), outputs: [{ interface: "out0", group: "239.2.2.2", port: 9, ttl: 300 }] }], [], n, ok))
      .toMatchObject({ issues: [{ id: "t", path: ["outputs", 0, "ttl"], message: "ttl must be 1–255" }] });
    expect(d.list().map((r) => r.id)).toEqual(["a"]);
  });

  test("a rule number is used again only after it was recycled, with the others untouched", () => {
    const n = new RuleNumbers(2);
    expect([n.take("a"), n.take("b"), n.take("c")]).toEqual([0, 1, null]);
    expect(n.release("a")).toBe(0);
    expect(n.take("c")).toBeNull(); // held: packets of "a" may still be in a worker
    n.recycle(0);
    expect(n.take("c")).toBe(0);
    expect(n.take("b")).toBe(1);
  });
});
