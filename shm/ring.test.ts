import { describe, expect, test } from "bun:test";
import { RING_HEADER_BYTES } from "./layout.ts";
import { RingConsumer, RingProducer } from "./ring.ts";

function ring(capacity: number, start = 0) {
  const buf = new ArrayBuffer(RING_HEADER_BYTES + 4 * capacity);
  const ctl = new Int32Array(buf, 0, 32);
  ctl[0] = start | 0; // head
  ctl[16] = start | 0; // tail
  return { p: new RingProducer(buf, 0, capacity), c: new RingConsumer(buf, 0, capacity) };
}

describe("SPSC ring", () => {
  test("empty: nothing available; full: push refuses and nothing is lost", () => {
    const { p, c } = ring(8);
    expect(c.available()).toBe(0);
    for (let i = 0; i < 8; i++) expect(p.push(100 + i)).toBe(true);
    expect(p.push(999)).toBe(false);
    expect(c.available()).toBe(0); // not yet published
    p.publish();
    expect(c.available()).toBe(8);
    const got = Array.from({ length: 8 }, () => c.take());
    expect(got).toEqual([100, 101, 102, 103, 104, 105, 106, 107]);
    expect(p.push(1)).toBe(false); // the consumer has not released yet
    c.release();
    expect(p.space()).toBe(8);
    expect(p.push(1)).toBe(true);
  });

  test("order is kept across many wrap-arounds, in uneven batches", () => {
    const { p, c } = ring(16);
    let next = 0;
    let expectNext = 0;
    for (let round = 0; round < 1000; round++) {
      const n = (round * 7) % 17;
      for (let i = 0; i < n && p.push(next); i++) next++;
      p.publish();
      const m = Math.min(c.available(), (round * 5) % 13);
      for (let i = 0; i < m; i++) expect(c.take()).toBe(expectNext++);
      c.release();
    }
    expect(expectNext).toBeGreaterThan(3000);
  });

  test("indices wrap past 2^32 without losing count", () => {
    const { p, c } = ring(8, 0xfffffffa);
    for (let i = 0; i < 8; i++) expect(p.push(i)).toBe(true);
    expect(p.push(8)).toBe(false);
    p.publish();
    expect(c.available()).toBe(8);
    for (let i = 0; i < 8; i++) expect(c.take()).toBe(i);
    c.release();
    expect(p.space()).toBe(8);
    expect(p.pending()).toBe(0);
  });

  test("available() may under-report until empty; pending() is exact", () => {
    const { p, c } = ring(8);
    p.push(1);
    p.publish();
    expect(c.available()).toBe(1);
    p.push(2);
    p.push(3);
    p.publish();
    expect(c.available()).toBe(1); // cached: re-read only when it looks empty
    expect(c.pending()).toBe(3);
  });

  test("forEachPending sees exactly the unconsumed entries; discardAll empties the ring", () => {
    const { p, c } = ring(8, 0xfffffffe);
    for (let i = 0; i < 5; i++) p.push(10 + i);
    p.publish();
    c.available();
    c.take();
    c.release();
    const fromProducer: number[] = [];
    p.forEachPending((v) => fromProducer.push(v));
    const fromConsumer: number[] = [];
    c.forEachPending((v) => fromConsumer.push(v));
    expect(fromProducer).toEqual([11, 12, 13, 14]);
    expect(fromConsumer).toEqual([11, 12, 13, 14]);
    expect(c.discardAll()).toBe(4);
    expect(c.available()).toBe(0);
    expect(p.pending()).toBe(0);
  });

  test("capacity must be a power of two", () => {
    expect(() => ring(6)).toThrow(/power of two/);
  });
});
