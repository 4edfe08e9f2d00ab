// A worker pair: an ingress and an egress process sharing one descriptor ring, and what each of
// them holds (its rule table, its sockets, its inputs) as far as the supervisor has told it.
import { futexWake } from "../../c/sys.ts";
import { resetRing, ringHeadAddr } from "../../shm/ring.ts";
import type { Segment } from "../../shm/segment.ts";
import type { EgressRule, IngressRule } from "../protocol/worker.ts";
import { WorkerHandle, type RelayUser } from "./workers.ts";
import type { PairCpus } from "../startup/low-latency.ts";

export type Role = "ingress" | "egress";

export class Pair {
  ingress!: WorkerHandle;
  egress!: WorkerHandle;
  /** exit times of recent crashes, per role, for back-off */
  readonly crashes: Record<Role, number[]> = { ingress: [], egress: [] };
  restarts = 0;
  /** egress's rule table and the output sockets it has */
  egressRules = new Map<number, EgressRule>();
  egressSockets = new Set<string>();
  /** ingress's rule table and the inputs whose socket it has */
  ingressRules = new Map<number, IngressRule>();
  ingressInputs = new Set<string>();

  /** onRetired: its egress has no packet left of these rule numbers (protocol/worker.ts "retired").
   *  cpus: --low-latency, the CPUs its workers busy-poll on. */
  constructor(readonly index: number, private readonly seg: Segment, private readonly user: RelayUser, private readonly logLevel: () => string,
    private readonly onRetired: (pair: number, nos: number[]) => void, private readonly cpus?: PairCpus) {}

  /** Starts a worker of this pair (replacing the handle; the old process must be gone). */
  spawn(role: Role, onExit: (w: WorkerHandle, code: number | null) => void, replacesDeadIngress = false): WorkerHandle {
    const w = new WorkerHandle(role, this.index, this.user, this.logLevel());
    // An idle egress sleeps on its descriptor ring's futex, not on its channel: wake it, or a
    // message waits for the sleep's 100 ms timeout (it made every rule change take 200 ms).
    if (role === "egress") {
      const head = ringHeadAddr(this.seg.addr, this.seg.layout.pairs[this.index].descRing);
      w.onSend = () => void futexWake(head);
      this.egressRules = new Map();
      this.egressSockets = new Set();
    } else {
      this.ingressRules = new Map();
      this.ingressInputs = new Set();
    }
    w.onUnprompted = (m) => this.onRetired(this.index, m.nos);
    w.proc.exited.then((code) => onExit(w, code));
    const busyPoll = this.cpus ? { busyPoll: { cpu: this.cpus[role] } } : {};
    w.send({ type: "init", role, index: this.index, shmSize: this.seg.layout.size, replacesDeadIngress, ...busyPoll }, [this.seg.fd]);
    this[role] = w;
    return w;
  }

  workers(): WorkerHandle[] {
    return [this.ingress, this.egress];
  }

  /** Both workers are gone: what was queued between them is dropped, not resent. */
  resetRings(): void {
    const pl = this.seg.layout.pairs[this.index];
    resetRing(this.seg.buf, pl.descRing);
    resetRing(this.seg.buf, pl.freeRing);
  }
}
