// Counters are totals in shared memory; rates come from sampling them once a second.
import { collectStats, type RuleMeta, type Stats } from "./stats.ts";
import type { Segment } from "./segment.ts";

export interface Rates {
  windowSeconds: number;
  rules: Record<string, { rxPps: number; txPps: number; rxBps: number; txBps: number }>;
  workers: { index: number; rxPps: number; txPps: number; ingressUtilisation: number; egressUtilisation: number }[];
}

export class RateSampler {
  private prev: { t: number; s: Stats } | null = null;
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
    const t = performance.now();
    const p = this.prev;
    if (p) {
      const dt = (t - p.t) / 1000;
      const rules: Rates["rules"] = {};
      const before = new Map(p.s.rules.map((x) => [x.id, x]));
      for (const r of s.rules) {
        const q = before.get(r.id);
        if (!q) continue;
        rules[r.id] = { rxPps: (r.rxPackets - q.rxPackets) / dt, txPps: (r.txPackets - q.txPackets) / dt,
          rxBps: (8 * (r.rxBytes - q.rxBytes)) / dt, txBps: (8 * (r.txBytes - q.txBytes)) / dt };
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
    this.prev = { t, s };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
