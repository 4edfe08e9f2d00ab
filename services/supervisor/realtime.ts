// Making quiet workers real-time. A worker decides it is quiet (services/schedule.ts) but cannot
// raise itself: it holds no privilege. The supervisor, which holds CAP_SYS_NICE, looks at each
// worker's `quiet` word on its pump (every 50 ms) and makes a worker that is quiet and not yet
// real-time SCHED_FIFO. The worker steps down on its own, at once, when it turns busy.
//
// The guard: the word is the worker's to write, and a real-time task that spins keeps ordinary
// tasks off its CPU (all but the kernel's 5 % for them). So on its watchdog (500 ms) the supervisor reads
// each real-time worker's CPU time from /proc; one that used more than GUARD_LOAD of a CPU did not
// step down as it should, and is made ordinary and never raised again (until it is replaced).
import { readFileSync } from "node:fs";
import { E, errnoName } from "../../c/lib.ts";
import { setFifo, setOther } from "../../c/sched.ts";
import { indexOf } from "../../shm/counters.ts";
import { EGRESS_COUNTERS, INGRESS_COUNTERS } from "../../shm/layout.ts";
import type { Segment } from "../../shm/segment.ts";
import { MAX_LOAD, QUIET, RT_PRIORITY } from "../schedule.ts";
import type { Pair } from "./pairs.ts";
import type { WorkerHandle } from "./workers.ts";

const WORD = { ingress: indexOf(INGRESS_COUNTERS).quiet, egress: indexOf(EGRESS_COUNTERS).quiet };
/** The share of a CPU a real-time worker may use between two looks of the guard. */
export const GUARD_LOAD = Math.min(1, MAX_LOAD + 0.2);
const TICKS_PER_S = 100; // USER_HZ: /proc's clock ticks on Linux

/** A worker's JavaScript thread (its main thread, tid = pid): policy and CPU time (s), from
 *  /proc/PID/task/PID/stat (the process's own line would add its JIT and GC threads); null when gone. */
export function procSched(pid: number): { realtime: boolean; cpuS: number } | null {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const f = s.slice(s.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
  return { realtime: Number(f[38]) === 1 || Number(f[38]) === 2, cpuS: (Number(f[11]) + Number(f[12])) / TICKS_PER_S };
}

type Log = { warn(o: object, m: string): void };

export class Realtime {
  private refused = false;
  private readonly words: Float64Array;
  /** workers the guard made ordinary: never raised again */
  private readonly demoted = new WeakSet<WorkerHandle>();
  private readonly seen = new WeakMap<WorkerHandle, { at: number; cpuS: number; realtime: boolean }>();
  /** when check() last raised a worker (Date.now()) */
  private readonly raisedAt = new WeakMap<WorkerHandle, number>();

  /** enabled: MCRELAY_TUNE_QUIET asks for real-time */
  constructor(private readonly seg: Segment, private readonly log: Log, private readonly enabled: boolean) {
    this.words = new Float64Array(seg.buf, 0, Math.floor(seg.buf.byteLength / 8));
  }

  /** Raises the workers that say they are quiet and are not real-time yet. */
  check(pairs: Pair[]): void {
    if (!this.enabled || this.refused) return;
    for (const p of pairs) {
      const pl = this.seg.layout.pairs[p.index];
      for (const w of p.workers()) {
        const off = w.role === "ingress" ? pl.ingressCounters : pl.egressCounters;
        if (!w.alive || this.demoted.has(w) || this.words[(off >> 3) + WORD[w.role]] !== QUIET.quiet) continue;
        const rc = setFifo(w.pid, RT_PRIORITY);
        if (rc === 0) this.raisedAt.set(w, Date.now());
        if (rc !== -E.EPERM && rc !== -E.EACCES) continue; // done, or the worker just exited (ESRCH)
        this.refused = true;
        this.log.warn({ errno: errnoName(-rc) }, "cannot make quiet workers real-time (the supervisor needs CAP_SYS_NICE): they stay ordinary tasks, and their latency at low rates is the scheduler's");
        return;
      }
    }
  }

  /** On the watchdog: a real-time worker that used more than GUARD_LOAD of a CPU is made ordinary for good. */
  guard(pairs: Pair[], now = Date.now()): void {
    if (!this.enabled || this.refused) return;
    for (const p of pairs) for (const w of p.workers()) {
      const s = w.alive ? procSched(w.pid) : null;
      if (s === null) continue;
      const last = this.seen.get(w);
      this.seen.set(w, { at: now, cpuS: s.cpuS, realtime: s.realtime });
      // Judged only over a stretch it was real-time throughout (at both ends, and not raised in
      // between): CPU it used as an ordinary task, busy before it turned quiet and was raised, is
      // not what the guard is for.
      if (!s.realtime || last === undefined || !last.realtime || (this.raisedAt.get(w) ?? 0) > last.at) continue;
      const load = (s.cpuS - last.cpuS) / Math.max(0.001, (now - last.at) / 1000);
      if (load <= GUARD_LOAD) continue;
      setOther(w.pid);
      this.demoted.add(w);
      this.log.warn({ role: w.role, index: w.index, pid: w.pid, load: Math.round(load * 100) / 100 },
        "a real-time worker used more than its share of a CPU without stepping down: made an ordinary task until it is replaced");
    }
  }
}
