import { describe, expect, test } from "bun:test";
import { CALM_NS, Calm, MAX_LOAD, WINDOW_NS } from "./schedule.ts";

/** Feeds windows of (load, calm) on from where the last call ended; returns when (ns after this
 *  call's start) quiet changed, and to what. */
let clock = 1e9;
function run(c: Calm, windows: [number, boolean][]): [number, boolean][] {
  const out: [number, boolean][] = [];
  const t0 = clock;
  for (const [load, calm] of windows) if (c.window((clock += WINDOW_NS), load, calm)) out.push([clock - t0, c.quiet]);
  return out;
}
const times = (n: number, w: [number, boolean]) => Array.from({ length: n }, () => w);

describe("a worker's schedule: quiet (real-time, together) or busy", () => {
  test("quiet only after CALM_NS of calm, light windows", () => {
    const c = new Calm();
    const n = CALM_NS / WINDOW_NS;
    expect(run(c, times(n, [0.1, true]))).toEqual([]); // the first calm window starts the count
    expect(c.quiet).toBe(false);
    expect(run(c, [[0.1, true]])).toEqual([[WINDOW_NS, true]]);
    expect(c.quiet).toBe(true);
  });

  test("busy at the first window over MAX_LOAD, or the first the worker's own rule says is not calm", () => {
    for (const w of [[MAX_LOAD, true], [0.9, true], [0.01, false]] as [number, boolean][]) {
      const c = new Calm();
      run(c, times(20, [0.1, true]));
      expect(c.quiet).toBe(true);
      expect(run(c, [[0.1, true], w])).toEqual([[2 * WINDOW_NS, false]]);
    }
  });

  test("a busy window in a calm stretch starts the count again", () => {
    const c = new Calm();
    const n = CALM_NS / WINDOW_NS;
    expect(run(c, [...times(n, [0.1, true]), [0.8, true], ...times(n, [0.1, true])])).toEqual([]);
    expect(run(c, [[0.1, true]]).map(([, q]) => q)).toEqual([true]);
  });

  test("reset: busy now, and calm counted afresh", () => {
    const c = new Calm();
    run(c, times(20, [0.1, true]));
    c.reset();
    expect(c.quiet).toBe(false);
    expect(run(c, times(CALM_NS / WINDOW_NS, [0.1, true]))).toEqual([]);
  });
});
