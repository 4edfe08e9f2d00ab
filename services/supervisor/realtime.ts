// Making quiet workers real-time. A worker decides it is quiet (services/schedule.ts) but cannot
// raise itself: it holds no privilege. The supervisor, which holds CAP_SYS_NICE, looks at each
// worker's `quiet` word on its pump (every 50 ms) and makes a worker that is quiet and not yet
// real-time SCHED_FIFO. The worker steps down on its own, at once, when it turns busy.
import { E, errnoName } from "../../c/lib.ts";
import { setFifo } from "../../c/sched.ts";
import { EGRESS_COUNTERS, INGRESS_COUNTERS } from "../../shm/layout.ts";
import type { Segment } from "../../shm/segment.ts";
import { QUIET, RT_PRIORITY } from "../schedule.ts";
import type { Pair } from "./pairs.ts";

const WORD = { ingress: INGRESS_COUNTERS.indexOf("quiet"), egress: EGRESS_COUNTERS.indexOf("quiet") };

export class Realtime {
  private refused = false;
  private readonly words: Float64Array;

  /** enabled: MCRELAY_TUNE_QUIET asks for real-time */
  constructor(private readonly seg: Segment, private readonly log: { warn(o: object, m: string): void }, private readonly enabled: boolean) {
    this.words = new Float64Array(seg.buf, 0, Math.floor(seg.buf.byteLength / 8));
  }

  check(pairs: Pair[]): void {
    if (!this.enabled || this.refused) return;
    for (const p of pairs) {
      const pl = this.seg.layout.pairs[p.index];
      for (const w of p.workers()) {
        const off = w.role === "ingress" ? pl.ingressCounters : pl.egressCounters;
        if (!w.alive || this.words[(off >> 3) + WORD[w.role]] !== QUIET.quiet) continue;
        const rc = setFifo(w.pid, RT_PRIORITY);
        if (rc !== -E.EPERM && rc !== -E.EACCES) continue; // done, or the worker just exited (ESRCH)
        this.refused = true;
        this.log.warn({ errno: errnoName(-rc) }, "cannot make quiet workers real-time (the supervisor needs CAP_SYS_NICE): they stay ordinary tasks, and their latency at low rates is the scheduler's");
        return;
      }
    }
  }
}
