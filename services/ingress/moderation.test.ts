import { describe, expect, test } from "bun:test";
import { FULL_RATE, HOLD_MAX_US, Moderation, WINDOW_NS, holdUs } from "./moderation.ts";

describe("ingress moderation", () => {
  test("no hold at low rates: each frame wakes ingress", () => {
    for (const r of [0, 1000, 20_000, 28_000]) expect(holdUs(r)).toBe(0);
  });

  test("above, a hold that grows with the rate to its maximum, and only when a frame is due within it", () => {
    expect(holdUs(30_000)).toBe(40);
    expect(holdUs(50_000)).toBe(Math.round(HOLD_MAX_US * (50_000 / FULL_RATE) ** 2)); // 111 µs
    expect(holdUs(100_000)).toBe(444);
    expect(holdUs(100_000)).toBeGreaterThan(holdUs(50_000));
    expect(holdUs(FULL_RATE)).toBe(HOLD_MAX_US);
    expect(holdUs(10 * FULL_RATE)).toBe(HOLD_MAX_US);
    for (const r of [30_000, 100_000, FULL_RATE]) expect((r * holdUs(r)) / 1e6).toBeGreaterThanOrEqual(1);
    expect(holdUs(FULL_RATE, 0)).toBe(0);
  });

  test("the rate follows the frames counted, window by window", () => {
    const m = new Moderation();
    let t = 1e9;
    m.count(0, t);
    for (let i = 0; i < 50; i++) m.count(3000, (t += WINDOW_NS)); // 300k frames/s
    expect(m.rate).toBeCloseTo(300_000, -3);
    expect(m.hold()).toBe(HOLD_MAX_US);
    for (let i = 0; i < 50; i++) m.count(10, (t += WINDOW_NS)); // 1k frames/s
    expect(m.rate).toBeLessThan(2000);
    expect(m.hold()).toBe(0);
  });

  test("a steady rate with a sender's catch-up bursts is the steady rate: no holds at 20k frames/s", () => {
    const m = new Moderation();
    let t = 1e9;
    m.count(0, t);
    let held = 0;
    for (let cycle = 0; cycle < 100; cycle++) {
      for (let i = 0; i < 340; i++) { // 17 ms of a frame every 50 µs, each waking ingress
        m.count(1, (t += 50e3));
        if (m.hold() > 0) held++;
      }
      t += 3e6; // then the sender was off its CPU for 3 ms,
      for (let i = 0; i < 60; i++) { // and catches up: 60 frames 5 µs apart
        m.count(1, (t += 5e3));
        if (m.hold() > 0) held++;
      }
    }
    expect(m.rate).toBeGreaterThan(15_000);
    expect(m.rate).toBeLessThan(25_000);
    expect(held).toBe(0); // with 2 ms windows: ~4,000 of these 40,000 passes held
  });
});
