import { describe, expect, test } from "bun:test";
import { CALM_NS, Calm, MAX_LOAD, PATIENCE, WINDOW_NS } from "./schedule.ts";

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

  test("busy at the first window over MAX_LOAD", () => {
    for (const load of [MAX_LOAD, 0.9]) {
      const c = new Calm();
      run(c, times(20, [0.1, true]));
      expect(c.quiet).toBe(true);
      expect(run(c, [[0.1, true], [load, true]])).toEqual([[2 * WINDOW_NS, false]]);
    }
  });

  test("busy after PATIENCE windows in a row that the worker's own rule calls busy; fewer (a burst) keep it quiet", () => {
    const c = new Calm();
    run(c, times(20, [0.1, true]));
    expect(run(c, [...times(PATIENCE - 1, [0.1, false]), [0.1, true], ...times(PATIENCE - 1, [0.1, false]), [0.1, true]])).toEqual([]);
    expect(c.quiet).toBe(true);
    expect(run(c, times(PATIENCE, [0.1, false]))).toEqual([[PATIENCE * WINDOW_NS, false]]);
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
