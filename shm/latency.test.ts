import { describe, expect, test } from "bun:test";
import { LATENCY_BUCKETS_S, LATENCY_WORDS } from "./layout.ts";
import { LatencyWriter, addHistogram, collectLatency, emptyHistogram, histogramDelta, quantile, quantileBound } from "./latency.ts";

describe("latency histograms", () => {
  const rules = 4;
  const region = () => new ArrayBuffer(8 * LATENCY_WORDS * rules);

  test("each packet lands in the first bucket whose bound it does not exceed; the sum is in seconds", () => {
    const buf = region();
    const w = new LatencyWriter(buf, 0, rules);
    w.add(2, 3_000); // 3 µs: ≤ 5 µs
    w.add(2, 5_000); // exactly the bound: that bucket
    w.add(2, 70_000); // ≤ 100 µs
    w.add(2, 2e9); // above 100 ms
    w.add(2, -500); // a clock step: 0
    const h = emptyHistogram();
    addHistogram(h, buf, 0, 2);
    expect(h.counts[0]).toBe(3);
    expect(h.counts[LATENCY_BUCKETS_S.indexOf(1e-4)]).toBe(1);
    expect(h.counts[LATENCY_BUCKETS_S.length]).toBe(1);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(5);
    expect(h.sumSeconds).toBeCloseTo(2.000078, 9);
    const other = emptyHistogram();
    addHistogram(other, buf, 0, 1);
    expect(other.counts.every((c) => c === 0)).toBe(true);
  });

  test("pairs add up; quantiles are the bound of the bucket that holds them", () => {
    const a = region();
    const b = region();
    for (let i = 0; i < 90; i++) new LatencyWriter(a, 0, rules).add(0, 15_000); // ≤ 20 µs
    for (let i = 0; i < 10; i++) new LatencyWriter(b, 0, rules).add(0, 400_000); // ≤ 500 µs
    const seg = { buf: a, layout: { pairs: [{ egressLatency: 0 }] } };
    const h = collectLatency(seg, [0]).get(0)!;
    addHistogram(h, b, 0, 0);
    expect(quantileBound(h, 0.5)).toBe(2e-5);
    expect(quantileBound(h, 0.99)).toBe(5e-4);
    expect(quantileBound(emptyHistogram(), 0.5)).toBeNull();
  });
});

describe("latency quantiles over a window", () => {
  test("interpolated within the bucket, as histogram_quantile does; a window is the difference of two readings", () => {
    const buf = new ArrayBuffer(8 * LATENCY_WORDS);
    const w = new LatencyWriter(buf, 0, 1);
    const read = () => {
      const h = emptyHistogram();
      addHistogram(h, buf, 0, 0);
      return h;
    };
    for (let i = 0; i < 100; i++) w.add(0, 1e6); // 1 ms: the (0.5 ms, 1 ms] bucket
    const before = read();
    for (let i = 0; i < 50; i++) w.add(0, 12_000); // (10, 20] µs
    for (let i = 0; i < 50; i++) w.add(0, 30_000); // (20, 50] µs
    const h = histogramDelta(read(), before);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(100);
    expect(quantile(h, 0.5)).toBeCloseTo(2e-5, 12); // the top of (10, 20]
    expect(quantile(h, 0.75)).toBeCloseTo(3.5e-5, 12); // half way through (20, 50]
    expect(quantile(histogramDelta(read(), read()), 0.5)).toBeNull();
    w.add(0, 5e9);
    expect(quantile(histogramDelta(read(), read()), 0.99)).toBeNull();
  });
});
