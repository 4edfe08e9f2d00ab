// How a worker is scheduled, chosen by its load the way moderation.ts chooses how ingress waits.
//
// Quiet — ingress below the rate where it holds, and each worker under half a CPU — the pair
// runs real-time (SCHED_FIFO, priority 1) and together on one CPU. Real-time, a woken worker takes
// its CPU from any ordinary task at once instead of after that task's slice: on a host whose CPUs
// are busy (the sender, the receiver, anything) that wait was the default's p99 of milliseconds.
// Together, ingress's futex wake of egress is a switch on its own CPU rather than an
// inter-processor interrupt to the other (on a VM, waking an idle vCPU costs tens of µs).
// Busy, both are ordinary tasks again, free to run anywhere: at high rates the pair wants two CPUs
// (ingress and egress in parallel), and a real-time task that took a whole CPU would starve the
// host. Load is the thread's own CPU time per window, so a quiet worker uses at most about half a
// CPU plus one window before it steps down; it steps down too while it applies a configuration
// (a long piece of work that is not traffic). docs/PERFORMANCE.md (latency) has the measurements.
// Real-time needs the supervisor's CAP_SYS_NICE; without it the pair is only together.
import { currentCpu, isRealtime, pinCpu, saveAffinity, setSchedSlice, threadCpuNs, unpin } from "../c/sched.ts";

/** Load is measured over windows of this length (ns). */
export const WINDOW_NS = 10_000_000;
/** Calm for this long (ns) before the worker goes real-time: a burst's lull is not quiet. */
export const CALM_NS = 50_000_000;
/** A worker above this share of a CPU over a window is busy. */
export const MAX_LOAD = 0.5;
/** SCHED_FIFO priority while quiet: the lowest, above every ordinary task and below the kernel's own threads. */
export const RT_PRIORITY = 1;

/** A worker's own condition (ingress: not holding) may fail this many windows in a row before it
 *  is busy: a sender's catch-up burst makes ingress hold for a moment at 20k frames/s, and stepping
 *  down for it (then CALM_NS before quiet again) put ~1 % of the packets in ordinary time. */
export const PATIENCE = 5;

/** The decision alone (no system calls): quiet after CALM_NS of calm windows; busy at the first
 *  window over MAX_LOAD, or after PATIENCE windows in a row that the worker's own rule calls busy. */
export class Calm {
  quiet = false;
  private calmSince = -1;
  private uncalm = 0;

  /** One window that ended at now (ns): the worker's load (share of a CPU) and its own condition
   *  (ingress: not holding; egress: its ingress is quiet). True when `quiet` changed. */
  window(now: number, load: number, calm: boolean): boolean {
    this.uncalm = calm ? 0 : this.uncalm + 1;
    if (load >= MAX_LOAD || !calm) {
      this.calmSince = -1;
      if (!this.quiet || (load < MAX_LOAD && this.uncalm < PATIENCE)) return false;
      this.quiet = false;
      return true;
    }
    if (this.calmSince < 0) this.calmSince = now;
    if (this.quiet || now - this.calmSince < CALM_NS) return false;
    this.quiet = true;
    return true;
  }

  /** Busy now, calm to be counted afresh. */
  reset(): void {
    this.quiet = false;
    this.calmSince = -1;
    this.uncalm = 0;
  }
}

export interface ScheduleOptions {
  /** real-time while quiet (not with --low-latency: a real-time busy loop would starve its CPU) */
  realtime: boolean;
  /** on one CPU with the pair's other worker while quiet (not when the operator pinned the workers) */
  together: boolean;
  /** the ordinary task's time slice (ns; 0: the kernel's) */
  sliceNs: number;
}

/** A worker's `quiet` word in shared memory: what the supervisor reads to make it real-time. */
export const QUIET = { busy: 0, quiet: 1, realtime: 2 } as const;

/**
 * Carries the decision out: system calls only when it changes, and two (the thread's CPU time,
 * its policy) a window. A worker cannot make itself real-time (it has no privilege): it says it is
 * quiet (`word` 1), the supervisor raises it (services/supervisor/realtime.ts), and it sees that it
 * is (2). Stepping down needs no privilege, so it is immediate; a raise that crossed a step-down
 * is undone at the next window.
 */
export class Schedule {
  readonly calm = new Calm();
  /** The CPU the worker is pinned to while quiet and together; -1 otherwise. */
  cpu = -1;
  /** QUIET.* */
  word: number = QUIET.busy;
  private since = 0;
  private cpuNs = 0;
  private readonly enabled: boolean;
  /** where word and cpu are published: the worker's counters (its `quiet` and `quietCpu`) */
  private out: Float64Array | null = null;
  private quietAt = 0;
  private cpuAt = 0;

  constructor(private readonly o: ScheduleOptions) {
    this.enabled = o.realtime || o.together;
    if (o.together) saveAffinity();
  }

  get quiet(): boolean {
    return this.calm.quiet;
  }

  /** Publishes word and cpu at these indices of the worker's counters (egress and the supervisor read them). */
  publishTo(counters: Float64Array, quietAt: number, cpuAt: number): void {
    this.out = counters;
    this.quietAt = quietAt;
    this.cpuAt = cpuAt;
    this.publish();
  }

  private publish(): void {
    if (this.out === null) return;
    this.out[this.cpuAt] = this.cpu; // before the word: egress reads the word, then the CPU
    this.out[this.quietAt] = this.word;
  }

  /** One call per pass of the worker's loop. join: the CPU to be on while quiet (egress: its
   *  ingress's; -1: the one it is on now). */
  tick(now: number, calm: boolean, join = -1): void {
    if (!this.enabled) return;
    const dt = now - this.since;
    if (dt < WINDOW_NS) return;
    const cpuNs = threadCpuNs();
    const load = this.since === 0 ? 1 : (cpuNs - this.cpuNs) / dt;
    this.since = now;
    this.cpuNs = cpuNs;
    if (this.calm.window(now, load, calm)) {
      if (this.calm.quiet && this.o.together) this.pin(join >= 0 ? join : currentCpu());
      else if (!this.calm.quiet) this.leave();
    } else if (this.calm.quiet && this.o.together && join >= 0 && join !== this.cpu) this.pin(join);
    this.word = this.calm.quiet ? QUIET.quiet : QUIET.busy;
    if (this.o.realtime && isRealtime()) {
      if (this.calm.quiet) this.word = QUIET.realtime;
      else setSchedSlice(this.o.sliceNs); // raised as it turned busy: down again
    }
    this.publish();
  }

  /** Steps down before work that is not traffic (a configuration), and says so at once (the
   *  supervisor must not raise a worker busy with it); quiet again after CALM_NS. */
  ordinary(): void {
    this.calm.reset();
    this.since = 0;
    this.word = QUIET.busy;
    if (this.enabled) this.leave();
    this.publish();
  }

  private pin(cpu: number): void {
    try {
      pinCpu(cpu);
      this.cpu = cpu;
    } catch {
      // not among this worker's CPUs (a cpuset that differs from its partner's): stay where it is
    }
  }

  private leave(): void {
    if (this.o.realtime) setSchedSlice(this.o.sliceNs);
    if (this.cpu >= 0) {
      unpin();
      this.cpu = -1;
    }
  }
}
