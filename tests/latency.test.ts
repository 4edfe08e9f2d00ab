// Relay latency as a metric (issue 17), against a real relay in namespaces:
//   src --veth-- relay --veth-- dst
// The per-rule histogram (the frame's kernel receive stamp to its last send's completion) counts
// every packet relayed once, in /metrics as a Prometheus histogram and in /api/v1/stats;
// `start --low-latency` (busy-polling workers, pinned) starts, forwards and counts the same way;
// and by default a quiet pair is real-time on one CPU, ordinary and free at high rates.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { Lab } from "../lab/netns.ts";
import { LATENCY_BUCKETS_S } from "../shm/layout.ts";
import { allowedCpus } from "../services/startup/low-latency.ts";
import { settled } from "./lib/settled.ts";
import { metric, metricsText } from "./lib/metrics.ts";
import { relayTopology } from "./lib/topology.ts";
import { TestRelay, expectExactlyOnce, runGen, startSink } from "./lib/relay.ts";

let lab: Lab;
let src: string, relay: string, dst: string;

beforeAll(() => {
  ({ lab, src, relay, dst } = relayTopology("lat"));
});
afterAll(() => lab?.destroy());

/** Two outputs: the histogram counts a packet once, when its last send completes. */
const rule = (name: string, port: number) => ({
  name, input: { interface: "in0", group: "239.1.1.1", port },
  outputs: [{ interface: "out0", group: "239.2.2.2", port: port + 1000 }, { interface: "out0", group: "239.2.2.3", port: port + 1001 }],
});
const gen = (port: number, rate: number, count: number) =>
  runGen(lab, src, ["--group", "239.1.1.1", "--port", String(port), "--interface", "eth0", "--rate", String(rate), "--size", "1400", "--count", String(count)]);

/** How the kernel schedules a worker's JavaScript thread (its main thread): policy and CPUs. */
function sched(pid: number): { policy: "fifo" | "other"; cpus: string } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const policy = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[38]); // field 41
  const cpus = readFileSync(`/proc/${pid}/status`, "utf8").match(/^Cpus_allowed_list:\s*(\S+)$/m)![1]!;
  return { policy: policy === 1 ? "fifo" : "other", cpus };
}

/** The rule's histogram as /metrics has it: cumulative buckets by le, _sum, _count. */
function histogram(text: string, name: string) {
  const buckets: [string, number][] = [];
  for (const m of text.matchAll(/^mcrelay_rule_latency_seconds_bucket\{(.*)\} (\S+)$/gm)) {
    if (!m[1]!.includes(`rule="${name}"`)) continue;
    buckets.push([/(?:^|,)le="([^"]+)"/.exec(m[1]!)![1]!, Number(m[2])]);
  }
  return { buckets, sum: metric(text, "mcrelay_rule_latency_seconds_sum", { rule: name }), count: metric(text, "mcrelay_rule_latency_seconds_count", { rule: name }) };
}

/** Checks a histogram of n packets: the buckets as the layout says, cumulative, ending at n. */
function expectSane(h: ReturnType<typeof histogram>, n: number): void {
  expect(h.buckets.map(([le]) => le)).toEqual([...LATENCY_BUCKETS_S.map(String), "+Inf"]);
  for (let i = 1; i < h.buckets.length; i++) expect(h.buckets[i]![1]).toBeGreaterThanOrEqual(h.buckets[i - 1]![1]);
  expect(h.buckets.at(-1)![1]).toBe(n);
  expect(h.count).toBe(n);
  // a mean between 1 µs and 100 ms: the stamps are in one clock and the units are seconds
  expect(h.sum! / n).toBeGreaterThan(1e-6);
  expect(h.sum! / n).toBeLessThan(0.1);
  // most packets within 100 ms even on a loaded 2-core machine
  expect(h.buckets.find(([le]) => le === "0.1")![1]).toBeGreaterThan(0.9 * n);
}

describe("relay latency", () => {
  test("every packet relayed is counted once in the rule's histogram: /metrics (a Prometheus histogram) and /api/v1/stats", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [rule("timed", 5000)] });
    try {
      await r.apiReady();
      let m = await metricsText(r);
      expect(m).toMatch(/^# TYPE mcrelay_rule_latency_seconds histogram$/m);
      expect(histogram(m, "timed").buckets).toEqual([]); // no series before a packet was sent
      const s = startSink(lab, dst, ["--group", "239.2.2.2", "--port", "6000", "--interface", "eth0", "--expect", "4000"]);
      await s.ready;
      const sending = gen(5000, 2000, 4000);
      // While packets flow, the stats give the last window's quantiles.
      const st = await settled(async () => (await r.api("GET", "/api/v1/stats")).body, (b) => typeof b.rules[0]?.latencyP50Us === "number", 5000);
      const live = st.rules[0];
      expect(live.latencyP50Us).toBeGreaterThan(0);
      expect(live.latencyP99Us).toBeGreaterThanOrEqual(live.latencyP50Us);
      expect(live.latencyP99Us).toBeLessThan(100_000);
      await sending;
      expectExactlyOnce(await s.result, 4000, r);
      m = await settled(() => metricsText(r), (t) => metric(t, "mcrelay_rule_tx_packets_total", { rule: "timed" }) === 8000);
      expect(metric(m, "mcrelay_rule_rx_packets_total", { rule: "timed" })).toBe(4000);
      expectSane(histogram(m, "timed"), 4000);
      // A window with nothing sent has no quantiles.
      const idle = await settled(async () => (await r.api("GET", "/api/v1/stats")).body, (b) => b.rules[0]?.latencyP50Us === null, 5000);
      expect(idle.rules[0].latencyP99Us).toBeNull();
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("--low-latency starts, pins its workers to the highest CPU, forwards every packet once and counts it", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [rule("fast", 5100)] }, { args: ["--low-latency"] });
    try {
      await r.apiReady();
      const cpu = allowedCpus().at(-1)!;
      for (const w of r.status().workers) {
        const allowed = readFileSync(`/proc/${w.pid}/status`, "utf8").match(/^Cpus_allowed_list:\s*(\S+)$/m)![1];
        expect([w.role, allowed]).toEqual([w.role, String(cpu)]);
      }
      const s = startSink(lab, dst, ["--group", "239.2.2.2", "--port", "6100", "--interface", "eth0", "--expect", "3000"]);
      await s.ready;
      await gen(5100, 3000, 3000);
      expectExactlyOnce(await s.result, 3000, r);
      const m = await settled(() => metricsText(r), (t) => metric(t, "mcrelay_rule_tx_packets_total", { rule: "fast" }) === 6000);
      expectSane(histogram(m, "fast"), 3000);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("a quiet pair runs real-time on one CPU; at a rate where ingress holds, both are ordinary tasks on any CPU; quiet again after", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [rule("sched", 5200)] });
    try {
      await r.apiReady();
      const pids = () => r.status().workers.map((w) => w.pid);
      const all = sched(process.pid).cpus; // the CPUs a worker may use (the test runs on the same)
      const both = () => pids().map(sched);
      // Idle is quiet: within a few windows the supervisor has made both real-time, and egress has joined ingress's CPU.
      const quiet = (s: ReturnType<typeof both>) => s.every((x) => x.policy === "fifo") && s[0]!.cpus === s[1]!.cpus && !s[0]!.cpus.includes("-") && !s[0]!.cpus.includes(",");
      let s = await settled(both, quiet, 5000);
      expect(s.map((x) => x.policy)).toEqual(["fifo", "fifo"]);
      expect(s[1]!.cpus).toBe(s[0]!.cpus);
      // A rate above the hold threshold (~29k frames/s): busy, ordinary, the pair's CPUs given back.
      const sink = startSink(lab, dst, ["--group", "239.2.2.2", "--port", "6200", "--interface", "eth0", "--expect", "200000"]);
      await sink.ready;
      const sending = gen(5200, 80_000, 200_000);
      s = await settled(both, (x) => x.every((w) => w.policy === "other" && w.cpus === all), 5000);
      expect(s).toEqual([{ policy: "other", cpus: all }, { policy: "other", cpus: all }]);
      await sending;
      await sink.result;
      // Quiet again once the traffic stops.
      s = await settled(both, quiet, 5000);
      expect(s.map((x) => x.policy)).toEqual(["fifo", "fifo"]);
      expect(s[1]!.cpus).toBe(s[0]!.cpus);
      // What the workers say in their counters (an idle worker sees that it was raised when it next wakes).
      const st = (await settled(async () => (await r.api("GET", "/api/v1/stats")).body.workers[0], (w) => w.ingress.quiet === 2 && w.egress.quiet === 2, 5000));
      expect([st.ingress.quiet, st.egress.quiet]).toEqual([2, 2]);
      expect(st.egress.quietCpu).toBe(st.ingress.quietCpu);
      // and /metrics, whose snapshot may be a moment older
      const words = (m: string) => [metric(m, "mcrelay_worker_schedule", { role: "ingress" }), metric(m, "mcrelay_worker_schedule", { role: "egress" })];
      expect(words(await settled(() => metricsText(r), (m) => words(m).every((v) => v === 2), 5000))).toEqual([2, 2]);
    } finally {
      await r.stop();
    }
  }, 60_000);
});
