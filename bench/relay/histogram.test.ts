import { expect, test } from "bun:test";
import { parseHistogram } from "./trial.ts";

// A line iperf 2.1.8 printed (10 µs bins): 40,002 packets, most in the first bin.
const LINE =
  "[  1] 0.0000-2.0001 sec T8(f)-PDF: bin(w=10us):cnt(40002)=1:39933,2:54,3:7,8:1,9:4,30:2,31:1 (5.00/95.00/99.7%=1/1/1,Outliers=0,obl/obu=0/0)";

test("percentiles are the upper edge of the bin that holds the rank", () => {
  const l = parseHistogram(LINE)!;
  expect(l.p50).toBeCloseTo(0.01); // bin 1 = [0, 10) µs
  expect(l.p99).toBeCloseTo(0.01); // 39,933 of 40,002 are in bin 1
  expect(l.p999).toBeCloseTo(0.02); // rank 39,962 lands in bin 2
  expect(l.over).toBe(0);
});

test("packets beyond the histogram's range make the high percentiles unbounded", () => {
  const l = parseHistogram("T8(f)-PDF: bin(w=1us):cnt(1000)=5:990 (5.00/95.00/99.7%=5/5/5,Outliers=0,obl/obu=0/10)")!;
  expect(l.p50).toBeCloseTo(0.005);
  expect(l.p99).toBeCloseTo(0.005);
  expect(l.p999).toBe(Infinity);
  expect(l.over).toBe(10);
});

test("a line without a histogram gives nothing", () => {
  expect(parseHistogram("[  1] 0.0000-2.0001 sec  2.44 MBytes  10.2 Mbits/sec")).toBeNull();
});
