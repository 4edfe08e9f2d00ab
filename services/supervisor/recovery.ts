// Dead and hung workers. A dead worker is replaced without sending any packet twice and without
// losing a slot or a frame (docs/ARCHITECTURE.md, "Recovering from dead workers"); one whose
// heartbeat in shared memory is older than HUNG_MS is killed, then replaced. A worker that dies
// on its own soon after it started is in a crash loop: it is replaced with growing delays.
import { EGRESS_COUNTERS, INGRESS_COUNTERS } from "../../shm/layout.ts";
import type { Segment } from "../../shm/segment.ts";
import { ANSWER_MS, type DataPlane } from "./dataplane.ts";
import type { Pair, Role } from "./pairs.ts";
import type { Plan } from "./plan.ts";
import type { WorkerHandle } from "./workers.ts";

/** A worker whose heartbeat in shared memory is older than this is hung and replaced. */
export const HUNG_MS = 3000;
const HEARTBEAT = { ingress: INGRESS_COUNTERS.indexOf("heartbeatMs"), egress: EGRESS_COUNTERS.indexOf("heartbeatMs") };

export interface RecoveryHost {
  readonly seg: Segment;
  readonly dataplane: DataPlane;
  readonly log: { info(o: object, m: string): void; error(o: object, m: string): void };
  stopping(): boolean;
  plan(): Plan;
  /** runs fn after whatever is being applied now, in order */
  serialize(fn: () => Promise<void>): Promise<void>;
  changed(): void;
}

export class Recovery {
  constructor(private readonly h: RecoveryHost) {}

  /** Called when a worker process exits. */
  onExit(pair: Pair, w: WorkerHandle): void {
    if (this.h.stopping() || pair[w.role] !== w) return;
    this.h.log.error({ role: w.role, index: w.index, pid: w.pid, code: w.proc.exitCode, signal: w.proc.signalCode }, "worker died; replacing it");
    const now = Date.now();
    // A crash loop is a worker that fails on its own soon after it started; one that ran, or was
    // killed from outside (SIGKILL: an operator, the OOM killer, our watchdog), is replaced at once.
    const loop = now - w.spawnedAt < 2000 && w.proc.signalCode !== "SIGKILL";
    pair.crashes[w.role] = [...pair.crashes[w.role].filter((t) => now - t < 30_000), ...(loop ? [now] : [])];
    this.h.serialize(() => this.replace(pair, w.role)).catch(async (e) => {
      this.h.log.error({ role: w.role, index: pair.index, err: String(e) }, "replacing the worker failed; trying again");
      await Bun.sleep(200);
      if (!this.h.stopping() && !pair[w.role].alive) this.onExit(pair, pair[w.role]);
    });
  }

  /**
   * - ingress died: egress drains (sends what is queued, waits for completions); then every slot
   *   is in the free ring or was the dead ingress's, so the new ingress starts owning them all. It
   *   gets the dead one's sockets and continues their rings where its progress record says.
   * - egress died: ingress pauses and takes back the slots that are in neither ring (the dead
   *   egress's: sent or lost, never resent, counted as worker_restart); the new egress continues
   *   from the ring's tail.
   */
  private async replace(pair: Pair, role: Role): Promise<void> {
    if (this.h.stopping()) return;
    const n = pair.crashes[role].length;
    const delay = n === 0 ? 0 : Math.min(10_000, 100 * 2 ** (n - 1)); // crash loops back off
    if (delay) await Bun.sleep(delay);
    if (this.h.stopping()) return;
    const other = role === "ingress" ? pair.egress : pair.ingress;
    pair[role].close();
    const onExit = (w: WorkerHandle) => this.onExit(pair, w);
    if (role === "ingress") {
      if (other.alive) {
        other.send({ type: "drain" });
        await other.expect("drained", ANSWER_MS);
      } else pair.resetRings();
      await pair.spawn("ingress", onExit, true).expect("ready", ANSWER_MS);
      await this.h.dataplane.configureAfresh(pair, "ingress", this.h.plan());
    } else {
      if (other.alive) {
        other.send({ type: "reclaim" });
        await other.expect("reclaimed", ANSWER_MS);
      }
      await pair.spawn("egress", onExit).expect("ready", ANSWER_MS);
      await this.h.dataplane.configureAfresh(pair, "egress", this.h.plan());
      if (other.alive) {
        other.send({ type: "resume" });
        await other.expect("resumed", ANSWER_MS);
      }
    }
    pair.restarts++;
    this.h.log.info({ role, index: pair.index, pid: pair[role].pid, restarts: pair.restarts }, "worker replaced");
    this.h.changed();
  }

  /** Kills workers whose heartbeat stopped (they are then replaced like any dead worker). */
  checkHeartbeats(pairs: Pair[]): void {
    const now = Date.now();
    for (const p of pairs) {
      for (const w of p.workers()) {
        const pl = this.h.seg.layout.pairs[p.index];
        const off = w.role === "ingress" ? pl.ingressCounters : pl.egressCounters;
        const hb = new Float64Array(this.h.seg.buf, off + 8 * HEARTBEAT[w.role], 1)[0];
        if (w.alive && now - Math.max(hb, w.spawnedAt) > HUNG_MS) {
          this.h.log.error({ role: w.role, index: p.index, pid: w.pid, silentMs: now - Math.max(hb, w.spawnedAt) }, "worker hung; killing it");
          w.proc.kill("SIGKILL");
        }
      }
    }
  }
}
