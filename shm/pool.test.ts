import { describe, expect, test } from "bun:test";
import { RING_HEADER_BYTES, computeLayout, slotOffset, STD_SLOT_BYTES, JUMBO_SLOT_BYTES } from "./layout.ts";
import { SlotStacks } from "./pool.ts";
import { RingConsumer, RingProducer } from "./ring.ts";

describe("slot pool", () => {
  test("every slot is handed out once, then the pool is exhausted", () => {
    const s = new SlotStacks(4, 2);
    const std = [s.takeStd(), s.takeStd(), s.takeStd(), s.takeStd()];
    expect(new Set(std)).toEqual(new Set([0, 1, 2, 3]));
    expect(s.takeStd()).toBe(-1);
    expect([s.takeJumbo(), s.takeJumbo()].sort()).toEqual([4, 5]);
    expect(s.takeJumbo()).toBe(-1);
    expect(s.free).toBe(0);
  });

  test("slots returned through the free ring go back to their own class", () => {
    const s = new SlotStacks(4, 2);
    const buf = new ArrayBuffer(RING_HEADER_BYTES + 4 * 8);
    const back = new RingProducer(buf, 0, 8);
    const freeRing = new RingConsumer(buf, 0, 8);
    const taken = [s.takeStd(), s.takeJumbo(), s.takeStd()];
    expect(s.free).toBe(3);
    for (const t of taken) back.push(t);
    back.publish();
    expect(s.refill(freeRing)).toBe(3);
    expect(s.free).toBe(6);
    expect(s.refill(freeRing)).toBe(0);
    const all = new Set<number>();
    for (let x = s.takeStd(); x >= 0; x = s.takeStd()) all.add(x);
    expect(all).toEqual(new Set([0, 1, 2, 3]));
  });

  test("reclaim gives back exactly the slots nobody else holds", () => {
    const s = new SlotStacks(8, 0);
    const taken = Array.from({ length: 6 }, () => s.takeStd()); // 2 left on the stack
    // 2 sit in the descriptor ring, 1 in the free ring; 3 were with a dead egress.
    const inRings = new Set([taken[0], taken[1], taken[2]]);
    expect(s.reclaim(8, inRings)).toBe(3);
    expect(s.free).toBe(5);
    const all = new Set<number>();
    for (let x = s.takeStd(); x >= 0; x = s.takeStd()) all.add(x);
    for (const r of inRings) expect(all.has(r)).toBe(false);
    expect(all.size).toBe(5);
  });

  test("slot offsets do not overlap and stay inside the segment", () => {
    const l = computeLayout({ workers: 2, maxRules: 16, slots: 8, jumboSlots: 2 });
    const spans: [number, number][] = [];
    for (let p = 0; p < 2; p++) {
      for (let i = 0; i < 10; i++) {
        const o = slotOffset(l, p, i);
        spans.push([o, o + (i < 8 ? STD_SLOT_BYTES : JUMBO_SLOT_BYTES)]);
      }
    }
    spans.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
    expect(spans[spans.length - 1][1]).toBeLessThanOrEqual(l.size);
    expect(l.ringCapacity).toBe(16);
  });
});
