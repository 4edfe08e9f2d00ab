import { expect, test } from "bun:test";
import { OutputRows } from "./output-rows.ts";

test("rows are given per output, kept while the number lives, reused after release", () => {
  const rows = new OutputRows(3);
  expect(rows.row(7, 0)).toBe(0);
  expect(rows.row(7, 1)).toBe(1);
  expect(rows.row(7, 0)).toBe(0); // kept
  expect(rows.row(2, 0)).toBe(2);
  expect(rows.row(2, 1)).toBe(-1); // pool empty: counted per rule only
  expect(rows.of(2)).toEqual([2, -1]);
  expect(rows.release(7).sort()).toEqual([0, 1]);
  expect(rows.of(7)).toEqual([]);
  expect(rows.row(2, 1)).toBeGreaterThanOrEqual(0); // asked again, it gets one now
  expect(rows.row(9, 4)).toBeGreaterThanOrEqual(0);
  expect(rows.of(9)).toEqual([-1, -1, -1, -1, rows.row(9, 4)]);
});
