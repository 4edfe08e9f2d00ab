// The shaper on a clock of its own: what leaves, when, and what is dropped.
import { describe, expect, test } from "bun:test";
import { shape } from "./shape.ts";
import { fakeContext } from "./testing.ts";

function harness(p: { pps?: number; bps?: number; queueMs: number; limit: number }, len: (slot: number) => number) {
  let now = 0;
  const sent: [number, number][] = [];
  const dropped: number[] = [];
  const s = shape(p, { ...fakeContext(), len, drop: (x) => dropped.push(x), now: () => now }, (x) => sent.push([x, now]));
  return { s, sent, dropped, at: (t: number) => ((now = t), s.pull!(t)) };
}

describe("shape", () => {
  test("1 Mbit/s: 1,000 frames of 1,250 B offered at once leave at the rate, the rest beyond the queue dropped", () => {
    const h = harness({ bps: 1e6, queueMs: 50, limit: 4096 }, () => 1250); // 10 kbit a frame: 100 a second
    for (let i = 0; i < 1000; i++) h.s.push(i);
    // The bucket's 10 ms burst (one frame) goes at once; 50 ms of queue holds 5 more.
    expect(h.sent.length).toBe(1);
    expect(h.dropped.length).toBe(1000 - 1 - 5);
    for (let t = 1; t <= 1000; t++) h.at(t);
    expect(h.sent.map(([x]) => x)).toEqual([0, 1, 2, 3, 4, 5]);
    // one every 10 ms, in order (the first sooner: the bucket had what the first frame left)
    const gaps = h.sent.slice(1).map(([, t], i) => t - h.sent[i]![1]);
    expect(gaps[0]).toBeGreaterThanOrEqual(7);
    for (const g of gaps.slice(1)) expect(g).toBeGreaterThanOrEqual(9);
    expect(h.s.due!()).toBe(Infinity);
  });

  test("due() says when the head may go, so the loop sleeps just that long", () => {
    const h = harness({ pps: 100, queueMs: 1000, limit: 4096 }, () => 100);
    h.s.push(1);
    h.s.push(2);
    expect(h.sent.length).toBe(1);
    expect(h.s.due!()).toBeCloseTo(10, 5);
    h.at(9.9);
    expect(h.sent.length).toBe(1);
    h.at(10);
    expect(h.sent.length).toBe(2);
  });

  test("an egress that wakes late keeps the rate: backlogged, what should have left meanwhile goes", () => {
    const h = harness({ bps: 1e6, queueMs: 200, limit: 4096 }, () => 1250); // one frame per 10 ms
    for (let i = 0; i < 20; i++) h.s.push(i); // 1 sent, 19 queued
    h.at(50); // woke 40 ms late: the 5 frames due by now go, not the bucket's one
    expect(h.sent.length).toBe(6);
    h.at(200); // ... and never more than the rate: 20 frames by 190 ms
    expect(h.sent.length).toBe(20);
    // Idle again, the bucket caps at its burst: a new burst is smoothed as before.
    h.at(1000);
    for (let i = 20; i < 25; i++) h.s.push(i);
    expect(h.sent.length).toBe(21);
  });

  test("a 64 KiB super-frame bigger than the bucket still goes (the bucket goes into debt)", () => {
    const h = harness({ bps: 10e6, queueMs: 50, limit: 4096 }, (x) => (x === 1 ? 65536 : 1514));
    h.s.push(1);
    h.s.push(2);
    expect(h.sent.map(([x]) => x)).toEqual([1]);
    h.at(40);
    expect(h.sent.map(([x]) => x)).toEqual([1]); // 524 kbit at 10 Mbit/s: ~52 ms of debt
    h.at(60);
    expect(h.sent.map(([x]) => x)).toEqual([1, 2]);
  });
});
