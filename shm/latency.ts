// Relay latency histograms: per rule number and pair, receive (the kernel's stamp on the frame) to
// the last send's completion. Egress adds a packet when its slot's last send completes: a few
// compares and two float additions, no allocation, no system call (the clock is read once per
// batch of completions). Any reader adds the pairs' rows up (buckets as LATENCY_BUCKETS_S says).
import { LATENCY_BUCKETS_S, LATENCY_WORDS } from "./layout.ts";

const NB = LATENCY_BUCKETS_S.length;
/** upper bounds in ns */
const BOUNDS_NS = Float64Array.from(LATENCY_BUCKETS_S, (s) => s * 1e9);
const SUM = NB + 1;

export class LatencyWriter {
  private readonly h: Float64Array;

  constructor(buf: ArrayBuffer, off: number, maxRules: number) {
    this.h = new Float64Array(buf, off, LATENCY_WORDS * maxRules);
  }

  /** One packet of rule `no` took ns (a negative time, from a clock step, counts as 0). */
  add(no: number, ns: number): void {
    const t = ns > 0 ? ns : 0;
    let b = 0;
    while (b < NB && t > BOUNDS_NS[b]) b++;
    const row = no * LATENCY_WORDS;
    this.h[row + b]++;
    this.h[row + SUM] += t / 1e9;
  }
}

/** A rule's histogram: counts per bucket (not cumulative; the last is above every bound) and the sum in seconds. */
export interface LatencyHistogram {
  counts: number[];
  sumSeconds: number;
}

export function emptyHistogram(): LatencyHistogram {
  return { counts: new Array(NB + 1).fill(0), sumSeconds: 0 };
}

/** Rule number -> its histogram summed over the pairs, for each number asked. */
export function collectLatency(seg: { buf: ArrayBuffer; layout: { pairs: { egressLatency: number }[] } }, nos: number[]): Map<number, LatencyHistogram> {
  const out = new Map<number, LatencyHistogram>();
  for (const no of nos) {
    const h = emptyHistogram();
    for (const pl of seg.layout.pairs) addHistogram(h, seg.buf, pl.egressLatency, no);
    out.set(no, h);
  }
  return out;
}

/** Adds rule `no`'s row of one pair's region (at `off`) into `into`. */
export function addHistogram(into: LatencyHistogram, buf: ArrayBuffer, off: number, no: number): void {
  const row = new Float64Array(buf, off + 8 * LATENCY_WORDS * no, LATENCY_WORDS);
  for (let b = 0; b <= NB; b++) into.counts[b] += row[b];
  into.sumSeconds += row[SUM];
}

/** The upper bound (s) of the bucket holding quantile q (Infinity: above the last bound), or null when empty. */
export function quantileBound(h: LatencyHistogram, q: number): number | null {
  const total = h.counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let b = 0; b <= NB; b++) if ((seen += h.counts[b]) >= rank) return b < NB ? LATENCY_BUCKETS_S[b] : Infinity;
  return Infinity;
}

/** The histogram of what came between two readings of one rule's (after minus before). */
export function histogramDelta(after: LatencyHistogram, before: LatencyHistogram | undefined): LatencyHistogram {
  if (!before) return after;
  return { counts: after.counts.map((c, i) => c - before.counts[i]!), sumSeconds: after.sumSeconds - before.sumSeconds };
}

/**
 * Quantile q (s) estimated as Prometheus' histogram_quantile does: linear within the bucket that
 * holds it (the first bucket from 0); above every bound, the last bound. null when empty.
 */
export function quantile(h: LatencyHistogram, q: number): number | null {
  const total = h.counts.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let b = 0; b < NB; b++) {
    const n = h.counts[b]!;
    if (n > 0 && seen + n >= rank) {
      const lo = b === 0 ? 0 : LATENCY_BUCKETS_S[b - 1]!;
      return lo + (LATENCY_BUCKETS_S[b]! - lo) * ((rank - seen) / n);
    }
    seen += n;
  }
  return LATENCY_BUCKETS_S[NB - 1]!;
}
