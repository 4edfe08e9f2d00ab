// Seamless redundancy end to end: one stream sent twice, on two interfaces to two groups, each path
// losing on its own; the relay merges them into one output.
//   src eth0 (10.99.1.2) --veth-- [in0 192.168.50.1]  relay  [out0 10.77.0.1] --veth-- dst eth0
//   src eth1 (10.98.1.2) --veth-- [in1 192.168.51.1]
// Two worker pairs: both inputs must be read by one of them (the fanout would split A and B).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../lab/netns.ts";
import { BUN, ROOT, TestRelay, runGen, startSink } from "./lib/relay.ts";
import { metric, metricsText } from "./lib/metrics.ts";
import { settled } from "./lib/settled.ts";
import { statsTables } from "../cli/stats.ts";

let lab: Lab;
let src: string, relay: string, dst: string;

beforeAll(() => {
  lab = Lab.create("red");
  src = lab.ns("src");
  relay = lab.ns("rly");
  dst = lab.ns("dst");
  lab.veth({ ns: src, ifname: "eth0", addr: "10.99.1.2/24" }, { ns: relay, ifname: "in0", addr: "192.168.50.1/24" });
  lab.veth({ ns: src, ifname: "eth1", addr: "10.98.1.2/24" }, { ns: relay, ifname: "in1", addr: "192.168.51.1/24" });
  lab.veth({ ns: relay, ifname: "out0", addr: "10.77.0.1/24" }, { ns: dst, ifname: "eth0", addr: "10.77.0.2/24" });
  lab.sh(src, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
  lab.sysctl(dst, "net.core.rmem_max", String(8 << 20));
});

afterAll(() => lab?.destroy());

const A = "239.10.0.1", B = "239.20.0.1";
/** How long a gap waits here: on this 2-core machine, shared and loaded, the copies of one packet
 *  were read up to ~70 ms apart (maxLagMs); the default of 10 ms is for a relay with cores of its own. */
const WINDOW = { windowMs: 200 };
const rtpRule = (name: string, port: number, out: number, extra: object = {}) => ({
  name, inputs: [{ interface: "in0", group: A, port }, { interface: "in1", group: B, port }],
  redundancy: { mode: "rtp", ...extra }, outputs: [{ interface: "out0", group: "239.30.0.1", port: out }],
});
/** the same stream on both paths; args add each path's losses */
const twoPaths = (port: number, n: number, rate: number, args: string[]) =>
  runGen(lab, src, ["--group", A, "--port", String(port), "--interface", "eth0", "--second-group", B, "--second-interface", "eth1",
    "--rate", String(rate), "--size", "200", "--count", String(n), ...args]);
const sink = (port: number, n: number, args: string[] = ["--rtp"]) =>
  startSink(lab, dst, ["--group", "239.30.0.1", "--port", String(port), "--interface", "eth0", "--expect", String(n), "--record-seqs", "--idle", "3000", ...args]);
const range = (from: number, n: number) => [...Array(n).keys()].map((k) => from + k);

describe("redundancy", () => {
  test("A drops every 10th, B every 7th: every packet either brought, once, in order, byte-exact; counters say who gave what", async () => {
    const N = 3000;
    const r = await TestRelay.start(lab, relay, { rules: [rtpRule("ab", 5004, 6004, WINDOW)] }, { workers: 2 });
    try {
      // k (from 0) is lost on A when (k+1) % 10 == 0, on B when (k+1) % 7 == 0: on both every 70th
      const both = range(0, N).filter((k) => (k + 1) % 70 === 0);
      const s = sink(6004, N - both.length);
      await s.ready;
      await twoPaths(5004, N, 2000, ["--rtp", "--drop-every", "10,7"]);
      const got = await s.result;
      if (got.unique !== N - both.length) console.error("missing numbers, and the rule's counters:", JSON.stringify(range(0, N).filter((k) => !both.includes(k) && !got.seqs.includes(k))), JSON.stringify(r.stats().rules[0]));
      expect({ unique: got.unique, duplicates: got.duplicates, corrupted: got.corrupted, outOfOrder: got.outOfOrder })
        .toEqual({ unique: N - both.length, duplicates: 0, corrupted: 0, outOfOrder: 0 });
      expect(got.seqs).toEqual(range(0, N).filter((k) => !both.includes(k)));
      const aLost = N / 10, bLost = Math.floor(N / 7);
      const st = await settled(() => r.stats(), (x) => (x.rules[0]!.pathStats?.[1]?.repaired ?? 0) >= bLost - both.length);
      const rule = st.rules[0]!;
      const [pa, pb] = rule.pathStats!;
      console.error(`A/B: the most a copy came after the first: path 0 ${pa!.maxLagMs} ms, path 1 ${pb!.maxLagMs} ms`);
      expect([pa!.packets, pb!.packets]).toEqual([N - aLost, N - bLost]);
      expect(pa!.unique + pb!.unique).toBe(N - both.length);
      expect(pa!.duplicates + pb!.duplicates).toBe(2 * N - aLost - bLost - (N - both.length));
      expect(rule.drops.redundant_copy).toBe(pa!.duplicates + pb!.duplicates);
      // what each missed that the other brought; what both missed
      expect([pa!.repaired, pb!.repaired]).toEqual([aLost - both.length, bLost - both.length]);
      expect([pa!.lost, pb!.lost, rule.sequenceLost]).toEqual([both.length, both.length, both.length]);
      expect(rule.txPackets).toBe(N - both.length);
      // the same in /metrics
      const m = await metricsText(r);
      expect(metric(m, "mcrelay_path_repaired_total", { rule: "ab", path: "0" })).toBe(aLost - both.length);
      expect(metric(m, "mcrelay_path_unique_packets_total", { rule: "ab", path: "1" })).toBe(pb!.unique);
      expect(metric(m, "mcrelay_rule_sequence_lost_total", { rule: "ab" })).toBe(both.length);
      // and in /api/v1/stats (checked against the OpenAPI document by api())
      const body = (await r.api("GET", "/api/v1/stats")).body;
      expect(body.rules[0].pathStats.map((p: any) => p.repaired)).toEqual([aLost - both.length, bLost - both.length]);
      // and what `mcrelay stats` prints of it
      const text = statsTables(body);
      expect(text).toContain("redundant paths:");
      expect(text).toMatch(new RegExp(`ab +0 +(up|silent) +${N - aLost} +${pa!.unique} `));
    } finally {
      await r.stop();
    }
  }, 90_000);

  test("A silent for 2 s, then back: nothing lost beyond B's own losses; the silence is logged and in the metric", async () => {
    const N = 4000;
    const r = await TestRelay.start(lab, relay, { rules: [rtpRule("silent", 5006, 6006, { ...WINDOW, silentMs: 300 })] }, { workers: 2 });
    try {
      // A sends nothing for packets 1000..2999 (2 s at 1,000 pps); B loses every 13th throughout
      const bOnly = range(1000, 2000).filter((k) => (k + 1) % 13 === 0);
      const s = sink(6006, N - bOnly.length);
      await s.ready;
      const gen = twoPaths(5006, N, 1000, ["--rtp", "--silent", "0:1000-3000", "--drop-every", "0,13"]);
      // in the middle of the silence: path 0 is down in the stats and /metrics
      await Bun.sleep(2200);
      const mid = await settled(() => r.stats(), (x) => x.rules[0]!.pathStats?.[0]?.up === 0, 1500);
      expect(mid.rules[0]!.pathStats!.map((p) => p.up)).toEqual([0, 1]);
      expect(metric(await metricsText(r), "mcrelay_path_up", { rule: "silent", path: "0" })).toBe(0);
      await gen;
      const got = await s.result;
      expect({ unique: got.unique, duplicates: got.duplicates, corrupted: got.corrupted }).toEqual({ unique: N - bOnly.length, duplicates: 0, corrupted: 0 });
      expect(got.seqs).toEqual(range(0, N).filter((k) => !bOnly.includes(k)));
      const st = await settled(() => r.stats(), (x) => x.rules[0]!.sequenceLost >= bOnly.length);
      // silent once in the middle (and once more, maybe, when the stream ended)
      expect(st.rules[0]!.pathStats![0]!.silences).toBeGreaterThanOrEqual(1);
      expect(st.rules[0]!.sequenceLost).toBe(bOnly.length);
      expect(r.logs()).toMatch(/redundant path 0 of rule \S+ is silent/);
      const back = /redundant path 0 of rule \S+ is up again after (\d+) ms/.exec(r.logs());
      expect(Number(back?.[1])).toBeGreaterThan(1500); // the 2 s without path 0, less silentMs before it counted
    } finally {
      await r.stop();
    }
  }, 90_000);

  test("two pairs: a plain rule on an interface a redundant rule has pinned gets every packet, from many flows", async () => {
    const N = 2000;
    const plain = { name: "plain", input: { interface: "in0", group: "239.10.0.9", port: 5099 }, outputs: [{ interface: "out0", group: "239.30.0.9", port: 6099 }] };
    const r = await TestRelay.start(lab, relay, { rules: [rtpRule("pinned", 5098, 6098, WINDOW), plain] }, { workers: 2, noApi: true });
    try {
      const s = startSink(lab, dst, ["--group", "239.30.0.9", "--port", "6099", "--interface", "eth0", "--expect", String(N), "--flows", "8"]);
      await s.ready;
      // 8 source ports: 8 flows, which the fanout would spread over both pairs were in0 not pinned
      await runGen(lab, src, ["--group", "239.10.0.9", "--port", "5099", "--interface", "eth0", "--rate", "2000", "--size", "200", "--count", String(N), "--flows", "8"]);
      const got = await s.result;
      expect({ unique: got.unique, duplicates: got.duplicates, corrupted: got.corrupted }).toEqual({ unique: N, duplicates: 0, corrupted: 0 });
      // one pair's ingress read all of it
      const st = await settled(() => r.stats(), (x) => x.rules[1]!.rxPackets >= N);
      expect(st.workers.map((w) => w.ingress.matched > 0)).toEqual(expect.arrayContaining([true, false]));
    } finally {
      await r.stop();
    }
  }, 90_000);

  test("RTP numbers wrap at 65,535 and 4-byte sequence numbers at 2^32, each path losing some", async () => {
    const N = 1000;
    const seqRule = { name: "seq32", inputs: [{ interface: "in0", group: A, port: 5010 }, { interface: "in1", group: B, port: 5010 }],
      // the low 32 bits of the lab payload's 64-bit big-endian number (bytes 8..15)
      redundancy: { mode: "sequence", offset: 12, width: 4, byteOrder: "big", ...WINDOW }, outputs: [{ interface: "out0", group: "239.30.0.1", port: 6010 }] };
    const r = await TestRelay.start(lab, relay, { rules: [rtpRule("wrap", 5008, 6008, WINDOW), seqRule] }, { workers: 2, noApi: true });
    try {
      const rtpFirst = 65536 - 400;
      const s1 = sink(6008, N, ["--rtp", "--first-seq", String(rtpFirst)]);
      await s1.ready;
      await twoPaths(5008, N, 2000, ["--rtp", "--first-seq", String(rtpFirst), "--drop-every", "10,7"]);
      const both = range(0, N).filter((k) => (k + 1) % 70 === 0);
      const g1 = await s1.result;
      expect(g1.seqs).toEqual(range(0, N).filter((k) => !both.includes(k)).map((k) => rtpFirst + k));
      expect([g1.duplicates, g1.corrupted]).toEqual([0, 0]);
      const seqFirst = 2 ** 32 - 400;
      const s2 = sink(6010, N, ["--first-seq", String(seqFirst)]);
      await s2.ready;
      await twoPaths(5010, N, 2000, ["--first-seq", String(seqFirst), "--drop-every", "10,7"]);
      const g2 = await s2.result;
      expect(g2.seqs).toEqual(range(0, N).filter((k) => !both.includes(k)).map((k) => seqFirst + k));
      expect([g2.duplicates, g2.corrupted]).toEqual([0, 0]);
    } finally {
      await r.stop();
    }
  }, 90_000);

  test("a path that swaps every pair of packets, the other losing every 5th: all of them, in order", async () => {
    const N = 2000;
    const r = await TestRelay.start(lab, relay, { rules: [rtpRule("reorder", 5012, 6012, WINDOW)] }, { workers: 1, noApi: true });
    try {
      const s = sink(6012, N);
      await s.ready;
      await twoPaths(5012, N, 2000, ["--rtp", "--drop-every", "5,0", "--swap", "1"]);
      const got = await s.result;
      expect(got.seqs).toEqual(range(0, N));
      expect([got.duplicates, got.corrupted, got.outOfOrder]).toEqual([0, 0, 0]);
      expect((await settled(() => r.stats(), (x) => x.rules[0]!.txPackets === N)).rules[0]!.sequenceLost).toBe(0);
    } finally {
      await r.stop();
    }
  }, 90_000);

  test("the API refuses a bad redundant rule naming the field (4xx), and takes a good one", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [] }, { workers: 1 });
    try {
      await r.apiReady();
      const base = rtpRule("api", 5014, 6014);
      const bad: [string, object, (string | number)[]][] = [
        ["width 3", { ...base, redundancy: { mode: "sequence", offset: 0, width: 3 } }, ["redundancy", "width"]],
        ["offset beyond a payload", { ...base, redundancy: { mode: "sequence", offset: 65504, width: 8 } }, ["redundancy", "offset"]],
        ["input and inputs", { ...base, input: { interface: "in0", group: A, port: 5014 } }, ["inputs"]],
        ["inputs without redundancy", { ...base, redundancy: undefined }, ["redundancy"]],
        ["inputs of two families", { ...base, inputs: [base.inputs[0], { interface: "in1", group: "ff0e::1", port: 5014 }] }, ["inputs", 1, "group"]],
        ["one input", { ...base, inputs: [base.inputs[0]] }, ["inputs"]],
      ];
      for (const [what, body, path] of bad) {
        const res = await r.api("POST", "/api/v1/rules", body);
        expect({ what, status: res.status }).toEqual({ what, status: 422 });
        expect({ what, paths: res.body.issues.map((i: any) => JSON.stringify(i.path)) }).toEqual({ what, paths: expect.arrayContaining([JSON.stringify(path)]) });
      }
      const ok = await r.api("POST", "/api/v1/rules", base);
      expect(ok.status).toBe(201);
      expect(ok.body.redundancy).toEqual({ mode: "rtp", windowMs: 10, windowPackets: 4096, silentMs: 200 });
      // a second rule may not take one of its inputs
      const clash = await r.api("POST", "/api/v1/rules", { name: "other", input: { interface: "in1", group: B, port: 5014 }, outputs: [{ interface: "out0", group: "239.30.0.2", port: 6014 }] });
      expect(clash.status).toBeGreaterThanOrEqual(400);
      expect(clash.status).toBeLessThan(500);
    } finally {
      await r.stop();
    }
  }, 60_000);
});

describe("start-up with a bad redundant rule", () => {
  function startWith(rules: object[]): { code: number; stderr: string } {
    const dir = mkdtempSync(join(tmpdir(), "mcrelay-red-"));
    try {
      const file = join(dir, "rules.json");
      writeFileSync(file, JSON.stringify({ rules }));
      const p = Bun.spawnSync([BUN, "bin/mcrelay.ts", "start", "--config", file, "--state-dir", join(dir, "state"), "--workers", "1"], { cwd: ROOT, stderr: "pipe", stdout: "pipe" });
      return { code: p.exitCode ?? -1, stderr: p.stderr.toString() };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const base = rtpRule("feed", 5000, 6000);
  test.each([
    ["width 3", { ...base, redundancy: { mode: "sequence", offset: 0, width: 3 } }, 'rule 0 "feed" field redundancy.width: width must be 4 or 8'],
    ["offset beyond a payload", { ...base, redundancy: { mode: "sequence", offset: 70000, width: 4 } }, 'rule 0 "feed" field redundancy.offset: offset 70000 + width 4 is beyond the largest UDP payload'],
    ["input and inputs", { ...base, input: base.inputs[0] }, 'rule 0 "feed" field inputs: a rule has input or inputs, not both'],
    ["two families", { ...base, inputs: [base.inputs[0], { interface: "in1", group: "ff0e::1", port: 5000 }] }, 'rule 0 "feed" field inputs[1].group: inputs[1] is IPv6 but inputs[0] is IPv4'],
    ["a mode it does not know", { ...base, redundancy: { mode: "smpte" } }, 'rule 0 "feed" field redundancy.mode'],
  ])("%s: exit 2, the field named", (_what, rule, msg) => {
    const r = startWith([rule]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(msg);
  });
  test("an input of a redundant rule that another rule has", () => {
    const r = startWith([base, { name: "plain", input: { interface: "in1", group: B, port: 5000 }, outputs: [{ interface: "out0", group: "239.30.0.9", port: 6000 }] }]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('rule 1 "plain" field input: same input as rule 0');
  });
});
