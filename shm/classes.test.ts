import { expect, test } from "bun:test";
import { ASSURED, BEST_EFFORT, EXPEDITED, classOf } from "./classes.ts";

test("DSCP classes: EF and CS5+ first, AF and CS1–4 next, the rest best effort", () => {
  expect([46, 40, 48, 56, 44].map(classOf)).toEqual(Array(5).fill(EXPEDITED));
  expect([10, 18, 26, 34, 8, 32].map(classOf)).toEqual(Array(6).fill(ASSURED));
  expect([0, 1, 7].map(classOf)).toEqual(Array(3).fill(BEST_EFFORT));
});
