import { describe, expect, test } from "bun:test";
import { lowLatencyArg, lowLatencyCpus, parseCpuList } from "./low-latency.ts";

describe("--low-latency", () => {
  test("CPU lists as the kernel writes them", () => {
    expect(parseCpuList("3")).toEqual([3]);
    expect(parseCpuList("0-3,8,10-11")).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseCpuList("2,2,1")).toEqual([1, 2]);
    for (const bad of ["", "a", "3-1", "1,,2", "-1", "1-"]) expect(parseCpuList(bad)).toBeNull();
  });

  test("a bare flag is auto; a value may follow it or come with =", () => {
    expect(lowLatencyArg(["--low-latency"])).toEqual(["--low-latency=auto"]);
    expect(lowLatencyArg(["--low-latency", "--workers", "1"])).toEqual(["--low-latency=auto", "--workers", "1"]);
    expect(lowLatencyArg(["--low-latency", "2,3"])).toEqual(["--low-latency=2,3"]);
    expect(lowLatencyArg(["--low-latency=2-5"])).toEqual(["--low-latency=2-5"]);
  });

  test("auto: the highest-numbered CPUs, one per pair, both workers of a pair on it", () => {
    expect(lowLatencyCpus("auto", undefined, [0, 1])).toEqual([{ ingress: 1, egress: 1 }]);
    expect(lowLatencyCpus("auto", 2, [0, 1, 2, 3])).toEqual([{ ingress: 2, egress: 2 }, { ingress: 3, egress: 3 }]);
    expect(() => lowLatencyCpus("auto", 3, [0, 1])).toThrow("3 worker pairs need a CPU each, this relay may use 2");
  });

  test("a list: a CPU per worker when there are two per pair, else one per pair; without --workers a pair per two", () => {
    expect(lowLatencyCpus("2-5", undefined, [0, 1, 2, 3, 4, 5])).toEqual([{ ingress: 2, egress: 3 }, { ingress: 4, egress: 5 }]);
    expect(lowLatencyCpus("2,3", 2, [0, 1, 2, 3])).toEqual([{ ingress: 2, egress: 2 }, { ingress: 3, egress: 3 }]);
    expect(lowLatencyCpus("1", undefined, [0, 1])).toEqual([{ ingress: 1, egress: 1 }]);
    expect(() => lowLatencyCpus("1", 2, [0, 1])).toThrow("1 CPU for 2 worker pairs");
    expect(() => lowLatencyCpus("7", 1, [0, 1])).toThrow("CPU 7 is not one this relay may run on (0,1)");
  });
});
