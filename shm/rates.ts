// Counters are totals in shared memory; rates come from sampling them once a second, and so do
// each rule's latency quantiles over the last window (from its histogram, shm/latency.ts).
import { collectStats, type RuleMeta, type Stats } from "./stats.ts";
import { collectLatency, histogramDelta, quantile, type LatencyHistogram } from "./latency.ts";
import type { Segment } from "./segment.ts";

export interface Rates {
  windowSeconds: number;
  rules: Record<string, { rxPps: number; txPps: number; rxBps: number; txBps: number; latencyP50Us: number | null; latencyP99Us: number | null }>;
  workers: { index: number; rxPps: number; txPps: number; ingressUtilisation: number; egressUtilisation: number }[];
}

export class RateSampler {
  private prev: { t: number; s: Stats; lat: Map<number, LatencyHistogram> } | null = null;
  rates: Rates = { windowSeconds: 0, rules: {}, workers: [] };
  private timer: Timer | null = null;

  constructor(private readonly seg: () => Segment | null, private readonly rules: () => RuleMeta[]) {}

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  sample(): void {
    const seg = this.seg();
    if (!seg) return;
    const s = collectStats(seg, this.rules());
    const lat = collectLatency(seg, s.rules.map((r) => r.no));
    const t = performance.now();
    const p = this.prev;
    if (p) {
      const dt = (t - p.t) / 1000;
      const rules: Rates["rules"] = {};
      const before = new Map(p.s.rules.map((x) => [x.id, x]));
      for (const r of s.rules) {
        const q = before.get(r.id);
        if (!q) continue;
        // A rule number given to another rule meanwhile was zeroed first: its window starts there.
        const h = q.no === r.no ? histogramDelta(lat.get(r.no)!, p.lat.get(r.no)) : lat.get(r.no)!;
        const p50 = quantile(h, 0.5);
        const p99 = quantile(h, 0.99);
        rules[r.id] = { rxPps: (r.rxPackets - q.rxPackets) / dt, txPps: (r.txPackets - q.txPackets) / dt,
          rxBps: (8 * (r.rxBytes - q.rxBytes)) / dt, txBps: (8 * (r.txBytes - q.txBytes)) / dt,
          latencyP50Us: p50 === null ? null : p50 * 1e6, latencyP99Us: p99 === null ? null : p99 * 1e6 };
      }
      // Utilisation: the share of the window the loop was not asleep (a restarted worker's
      // counters continue, so the deltas stay meaningful).
      const util = (now: number, before: number) => Math.min(1, Math.max(0, 1 - (now - before) / 1e9 / dt));
      const workers = s.workers.map((w, i) => ({ index: w.index, rxPps: (w.ingress.matched - (p.s.workers[i]?.ingress.matched ?? 0)) / dt,
        txPps: (w.egress.completions - (p.s.workers[i]?.egress.completions ?? 0)) / dt,
        ingressUtilisation: util(w.ingress.sleepNs, p.s.workers[i]?.ingress.sleepNs ?? 0),
        egressUtilisation: util(w.egress.sleepNs, p.s.workers[i]?.egress.sleepNs ?? 0) }));
      this.rates = { windowSeconds: dt, rules, workers };
    }
    this.prev = { t, s, lat };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
