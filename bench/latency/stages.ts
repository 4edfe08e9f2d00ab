// Where an mcrelay packet's time goes, from its own records: the sampled packets' trace records
// (shm/trace.ts: the kernel's receive, ingress, egress's take and submit, the completion) and the
// rule's latency histogram (shm/latency.ts), both read from the relay's segment while a trial runs.
import { openSegment, segmentName, type Segment } from "../../shm/segment.ts";
import { addHistogram, emptyHistogram, quantileBound, type LatencyHistogram } from "../../shm/latency.ts";
import { TraceReader, type TraceRecord } from "../../shm/trace.ts";

/** Per stage, ns: the frame's wait in the AF_PACKET ring, ingress to egress's take, take to submit,
 *  submit to the completion being reaped; total: the kernel's receive to the completion. */
export const STAGES = ["ringWait", "toEgress", "toSubmit", "send", "total"] as const;
export type Stage = (typeof STAGES)[number];

export interface StageStats {
  samples: number;
  /** per stage: p50 and p99, µs */
  p50: Record<Stage, number>;
  p99: Record<Stage, number>;
}

export interface HistogramStats {
  count: number;
  /** upper bounds of the buckets holding p50 and p99, µs (Infinity: above 100 ms) */
  p50: number | null;
  p99: number | null;
}

const pct = (xs: number[], q: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};

function stagesOf(r: TraceRecord): Record<Stage, number> {
  const ring = r.ringWaitNs ?? 0;
  const take = r.takeNs ?? 0;
  const submit = r.submitNs ?? 0;
  const done = r.doneNs - r.rxNs;
  return { ringWait: ring, toEgress: take, toSubmit: submit - take, send: done - submit, total: ring + done };
}

/** Follows one relay's segment during a trial: trace records (read every 50 ms: the ring holds
 *  4,096) and the rule's histogram before and after. */
export class RelayRecords {
  private readonly seg: Segment;
  private readonly readers: TraceReader[];
  private records: TraceRecord[] = [];
  private timer: Timer | null = null;
  private before: LatencyHistogram = emptyHistogram();

  constructor(stateDir: string, private readonly rule = 0) {
    this.seg = openSegment(segmentName(stateDir), true);
    this.readers = this.seg.layout.pairs.map((pl) => new TraceReader(this.seg.buf, pl.traceRing, pl.traceStages));
  }

  private histogram(): LatencyHistogram {
    const h = emptyHistogram();
    for (const pl of this.seg.layout.pairs) addHistogram(h, this.seg.buf, pl.egressLatency, this.rule);
    return h;
  }

  begin(): void {
    for (const r of this.readers) r.read(); // what came before is not this trial's
    this.records = [];
    this.before = this.histogram();
    this.timer = setInterval(() => this.pump(), 50);
  }

  private pump(): void {
    for (const r of this.readers) for (const rec of r.read()) this.records.push(rec);
  }

  end(): { stages: StageStats | null; histogram: HistogramStats } {
    if (this.timer) clearInterval(this.timer);
    this.pump();
    const after = this.histogram();
    const h: LatencyHistogram = { counts: after.counts.map((c, i) => c - this.before.counts[i]!), sumSeconds: after.sumSeconds - this.before.sumSeconds };
    const us = (s: number | null) => (s === null ? null : s * 1e6);
    const histogram = { count: h.counts.reduce((a, b) => a + b, 0), p50: us(quantileBound(h, 0.5)), p99: us(quantileBound(h, 0.99)) };
    if (!this.records.length) return { stages: null, histogram };
    const per = this.records.map(stagesOf);
    const of = (q: number) => Object.fromEntries(STAGES.map((s) => [s, pct(per.map((p) => p[s]), q) / 1000])) as Record<Stage, number>;
    return { stages: { samples: per.length, p50: of(0.5), p99: of(0.99) }, histogram };
  }
}
