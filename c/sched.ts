// Typed wrapper of sched.c: how the calling thread is scheduled (policy, CPUs, CPU time), and the
// supervisor's making a worker real-time.
import { dlopen, FFIType as T } from "bun:ffi";
import { check, libPath } from "./lib.ts";

const { symbols: C } = dlopen(libPath(), {
  mr_yield: { args: [], returns: T.i32 },
  mr_sched_slice: { args: [T.u64], returns: T.i32 },
  mr_sched_fifo: { args: [T.i32, T.i32], returns: T.i32 },
  mr_sched_other: { args: [T.i32], returns: T.i32 },
  mr_sched_is_realtime: { args: [], returns: T.i32 },
  mr_pin_cpu: { args: [T.i32], returns: T.i32 },
  mr_save_affinity: { args: [], returns: T.i32 },
  mr_unpin: { args: [], returns: T.i32 },
  mr_current_cpu: { args: [], returns: T.i32 },
  mr_thread_cpu_ns: { args: [], returns: T.i64 },
});

/** sched_yield(): lets another runnable thread on this CPU run. */
export function yieldCpu(): void {
  C.mr_yield();
}

/** The calling thread as an ordinary (SCHED_OTHER, EEVDF) task, its niceness kept, with a time
 *  slice of ns (sched_setattr sched_runtime, Linux 6.12+; 0: the kernel's default). Shorter slices
 *  win the CPU sooner on wake-up. 0 or -errno (older kernels refuse a slice: EINVAL). */
export function setSchedSlice(ns: number): number {
  return C.mr_sched_slice(ns);
}

/** Thread pid (0: the caller) as SCHED_FIFO at prio. 0 or -errno (EPERM: without CAP_SYS_NICE). */
export function setFifo(pid: number, prio: number): number {
  return C.mr_sched_fifo(pid, prio);
}

/** Thread pid as an ordinary task again (SCHED_OTHER). 0 or -errno. */
export function setOther(pid: number): number {
  return C.mr_sched_other(pid);
}

/** Whether the calling thread is a real-time task now. */
export function isRealtime(): boolean {
  return check(C.mr_sched_is_realtime(), "sched_getscheduler") === 1;
}

/** Pins the calling thread to one CPU (sched_setaffinity). */
export function pinCpu(cpu: number): void {
  check(C.mr_pin_cpu(cpu), `pinning to CPU ${cpu}`);
}

/** Remembers the CPUs the thread may run on now, for unpin(). */
export function saveAffinity(): void {
  check(C.mr_save_affinity(), "sched_getaffinity");
}

/** Gives back the CPUs saveAffinity() found. */
export function unpin(): void {
  check(C.mr_unpin(), "sched_setaffinity (unpinning)");
}

/** The CPU the calling thread runs on now (no system call). */
export function currentCpu(): number {
  return check(C.mr_current_cpu(), "sched_getcpu");
}

/** CPU time the calling thread has used, ns. */
export function threadCpuNs(): number {
  return Number(C.mr_thread_cpu_ns());
}
