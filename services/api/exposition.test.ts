import { expect, test } from "bun:test";
import { Exposition } from "./exposition.ts";

test("a histogram: cumulative buckets up to +Inf, then _sum and _count, with the common labels", () => {
  const x = new Exposition([["node", "a"]]);
  x.family("h_seconds", "histogram", "help").histogram("h_seconds", 'rule="r"', [0.001, 0.01], [2, 3, 1], 0.5);
  expect(x.text()).toBe([
    "# HELP h_seconds help", "# TYPE h_seconds histogram",
    'h_seconds_bucket{node="a",rule="r",le="0.001"} 2', 'h_seconds_bucket{node="a",rule="r",le="0.01"} 5', 'h_seconds_bucket{node="a",rule="r",le="+Inf"} 6',
    'h_seconds_sum{node="a",rule="r"} 0.5', 'h_seconds_count{node="a",rule="r"} 6', "",
  ].join("\n"));
});
