import { describe, expect, test } from "bun:test";
import { FULL_RATE, HOLD_MAX_US, Moderation, holdUs } from "./moderation.ts";

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
    for (let i = 0; i < 50; i++) m.count(600, (t += 2e6)); // 300k frames/s
    expect(m.rate).toBeCloseTo(300_000, -3);
    expect(m.hold()).toBe(HOLD_MAX_US);
    for (let i = 0; i < 50; i++) m.count(2, (t += 2e6)); // 1k frames/s
    expect(m.rate).toBeLessThan(2000);
    expect(m.hold()).toBe(0);
  });
});
