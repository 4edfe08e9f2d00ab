// The guard on real-time workers, against a real process the kernel schedules SCHED_FIFO: one that
// spins (what a worker that does not step down would do) is made ordinary; one that sleeps is left.
import { afterEach, describe, expect, test } from "bun:test";
import { setFifo, setOther } from "../../c/sched.ts";
import { INGRESS_COUNTERS } from "../../shm/layout.ts";
import type { Segment } from "../../shm/segment.ts";
import type { Pair } from "./pairs.ts";
import { GUARD_LOAD, Realtime, procSched } from "./realtime.ts";
import type { WorkerHandle } from "./workers.ts";

const procs: Bun.Subprocess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) p.kill("SIGKILL");
});

/** A process that spins (or sleeps) for at most 3 s, as SCHED_FIFO 1 (or ordinary, with rt false). */
function worker(spin: boolean, rt = true): WorkerHandle {
  const code = spin ? "const end = Date.now() + 3000; while (Date.now() < end);" : "await Bun.sleep(3000);";
  const p = Bun.spawn([process.execPath, "-e", code], { stdout: "ignore", stderr: "ignore" });
  procs.push(p);
  if (rt) expect(setFifo(p.pid, 1)).toBe(0);
  return { pid: p.pid, alive: true, role: "ingress", index: 0 } as unknown as WorkerHandle;
}

const seg = { buf: new ArrayBuffer(4096), layout: { pairs: [] } } as unknown as Segment;
const pairOf = (...w: WorkerHandle[]) => [{ index: 0, workers: () => w }] as unknown as Pair[];

describe("the real-time guard", () => {
  test(`a real-time worker that used more than ${GUARD_LOAD} of a CPU is made ordinary and logged; one that sleeps keeps real-time`, async () => {
    const warned: object[] = [];
    const rt = new Realtime(seg, { warn: (o) => warned.push(o) }, true);
    const spinning = worker(true);
    const sleeping = worker(false);
    const pairs = pairOf(spinning, sleeping);
    rt.guard(pairs);
    await Bun.sleep(400);
    rt.guard(pairs);
    expect(procSched(spinning.pid)!.realtime).toBe(false);
    expect(procSched(sleeping.pid)!.realtime).toBe(true);
    expect(warned).toEqual([expect.objectContaining({ pid: spinning.pid, role: "ingress" })]);
  });

  test("CPU a worker used as an ordinary task (busy, before it was raised) is not held against it", async () => {
    const warned: object[] = [];
    const rt = new Realtime(seg, { warn: (o) => warned.push(o) }, true);
    const w = worker(true, false); // busy and ordinary: spinning is what it may do
    const pairs = pairOf(w);
    rt.guard(pairs);
    await Bun.sleep(300);
    expect(setFifo(w.pid, 1)).toBe(0); // raised just before the guard looks again
    rt.guard(pairs);
    expect([procSched(w.pid)!.realtime, warned]).toEqual([true, []]);
    await Bun.sleep(300); // real-time at both ends of this stretch, and spinning: that is judged
    rt.guard(pairs);
    expect(procSched(w.pid)!.realtime).toBe(false);
    expect(warned.length).toBe(1);
  });

  test("a worker that stepped down and was raised again between two looks is not judged over that stretch", async () => {
    const warned: object[] = [];
    const buf = new ArrayBuffer(4096);
    const segQuiet = { buf, layout: { pairs: [{ ingressCounters: 0, egressCounters: 2048 }] } } as unknown as Segment;
    new Float64Array(buf)[INGRESS_COUNTERS.indexOf("quiet")] = 1; // it says it is quiet
    const rt = new Realtime(segQuiet, { warn: (o) => warned.push(o) }, true);
    const w = worker(true);
    const pairs = pairOf(w);
    rt.guard(pairs); // real-time
    expect(setOther(w.pid)).toBe(0); // it steps down (busy: spinning is what it may do)
    await Bun.sleep(300);
    rt.check(pairs); // quiet again: raised
    rt.guard(pairs);
    expect([procSched(w.pid)!.realtime, warned]).toEqual([true, []]);
    await Bun.sleep(300);
    rt.guard(pairs); // real-time throughout this stretch, and spinning
    expect(procSched(w.pid)!.realtime).toBe(false);
    expect(warned.length).toBe(1);
  });
});
