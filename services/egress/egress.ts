// The egress loop. Per descriptor: through the rule's impairment stages if it has any, then one
// io_uring send per output from the same slot (fan-out without copies): on the output's UDP
// socket, or (raw) as a frame gathered from the output's header and the slot's payload, or (gso)
// with the turn's other datagrams to that output as one UDP GSO super-frame (gso.ts). Per turn: held packets
// that are due go out, one submit, every completion reaped; a slot goes back to ingress when
// its last send has completed (or a stage dropped it), and its latency (the kernel's receive
// stamp to now) goes into its rule's histogram. Idle, it sleeps on the ring's futex, or with
// --low-latency busy-polls the ring while traffic flows.
import { closeFd } from "../../c/inet.ts";
import { RealtimeClock, monotonicNs } from "../../c/sys.ts";
import { yieldCpu } from "../../c/sched.ts";
import type { Schedule } from "../schedule.ts";
import { E } from "../../c/lib.ts";
import { VNET_HDR_BYTES } from "../../c/packet.ts";
import { GSO_MAX, NO_SUM, SETUP_DEFER_TASKRUN, SETUP_SINGLE_ISSUER, Uring, userData } from "../../c/uring.ts";
import { readTune } from "../tune.ts";
import { indexOf, snapshot } from "../../shm/counters.ts";
import { EGRESS_COUNTERS, EGRESS_RULE_COUNTERS, INGRESS_COUNTERS, MAX_PATHS, OUTPUT_COUNTERS, OUTPUT_ROWS_PER_RULE, PATH_COUNTERS, PairSlots, RING_WAIT_MASK, SEND_ERRNOS, SH, SLOT_HEADER_BYTES, SLOT_PATH_SHIFT } from "../../shm/layout.ts";
import { RingConsumer, RingProducer, ringHeadAddr } from "../../shm/ring.ts";
import type { Segment } from "../../shm/segment.ts";
import { TraceWriter } from "../../shm/trace.ts";
import { LatencyWriter } from "../../shm/latency.ts";
import type { BusyPoll, EgressRule } from "../protocol/worker.ts";
import type { Gathered } from "../worker.ts";
import { seeded } from "./stages/random.ts";
import { buildPipeline } from "./stages/registry.ts";
import { merge, type MergeDrop, type MergeStage } from "./stages/merge.ts";
import type { Stage, StageContext } from "./stages/stage.ts";
import { WEIGHTS, classOf } from "../../shm/classes.ts";
import { ruleOutputs, Templates, type RuleOutputs } from "./outputs.ts";
import { GROUP_BIT, Groups, gsoCap } from "./gso.ts";

const C = indexOf(EGRESS_COUNTERS);
const IC = indexOf(INGRESS_COUNTERS);
const RF = indexOf(EGRESS_RULE_COUNTERS);
const NRF = EGRESS_RULE_COUNTERS.length;
const OF = indexOf(OUTPUT_COUNTERS);
const NOF = OUTPUT_COUNTERS.length;
/** -errno -> the egress counter of that errno (send_errno_<NAME>, else send_errno_other) */
const ERRNO_COUNTER = (() => {
  const t = new Uint16Array(4096).fill(C.send_errno_other);
  for (const n of SEND_ERRNOS) if (n !== "other") t[E[n]] = C[`send_errno_${n}`];
  return t;
})();

const SQ_ENTRIES = 256;
const CQ_ENTRIES = SQ_ENTRIES * 4;
/** In-flight sends stay below the completion queue's size, so none overflows. */
const MAX_INFLIGHT = CQ_ENTRIES - 64;
const TUNE = readTune();
/** Descriptors taken from the ring per turn into the class queues (MCRELAY_TUNE_TAKE). */
const TAKE = TUNE.egressTake;
const SPIN_NS = TUNE.spinUs * 1000;
/** Registered-file slots (a socket's slot is its fd number); fds beyond are sent on unregistered. */
const FIXED_FILES = 4096;
const SLEEP_US = 100_000;
/** Longest a busy run() goes before it writes its heartbeat and returns for control messages. */
const BUSY_RETURN_NS = 50_000_000;
/** --low-latency: how long after the last descriptor a busy-polling egress keeps polling before it sleeps. */
const BUSY_IDLE_NS = 1_000_000_000;

interface Pipeline {
  /** the impairment (and redundancy) it was built from, to keep its state across unrelated changes */
  spec: string;
  head: (slot: number) => void;
  stages: Stage[];
  /** a redundant rule's merge, first of the stages */
  merge?: MergeStage;
}

/** A redundant rule's path went silent or came back (a log line, by the worker). */
export type PathEvent = (o: { rule: string; no: number; path: number; up: boolean; silentMs: number }) => void;

const NPC = PATH_COUNTERS.length;
/** How often (turns) the merges check their paths for silence while busy. */
const WATCH_TURNS = 64;
const MERGE_DROP = { redundant_copy: [C.drop_redundant_copy, RF.drop_redundant_copy], redundant_late: [C.drop_redundant_late, RF.drop_redundant_late],
  no_sequence: [C.drop_no_sequence, RF.drop_no_sequence] } as const satisfies Record<MergeDrop, readonly [number, number]>;

export class Egress {
  private readonly c: Float64Array;
  private readonly rc: Float64Array;
  /** per-output counters, by row (OUTPUT_COUNTERS) */
  private readonly oc: Float64Array;
  private readonly desc: RingConsumer;
  private readonly free: RingProducer;
  private readonly slotU32: Uint32Array;
  private readonly slotU8: Uint8Array;
  private readonly slotF64: Float64Array;
  private readonly trace: TraceWriter;
  private readonly latency: LatencyWriter;
  /** read once per batch of completions: each packet's latency ends there */
  private readonly clock = new RealtimeClock();
  /** sampled slots queued this turn: their submit time is stamped just before the submit */
  private readonly sampledQueued = new Int32Array(256);
  private nSampledQueued = 0;
  /** when the last descriptor was taken (ns, monotonic), for busy-polling */
  private lastTakeNs = 0;
  private readonly refs: Uint16Array;
  /** extra copies a duplicate stage asked for, per slot */
  private readonly extra: Uint8Array;
  /** a sampled packet's stages, per slot (ns from its receive time, SH.rxNsF64): egress took its descriptor, submitted its sends */
  private readonly takeNs: Uint32Array;
  private readonly submitNs: Uint32Array;
  private readonly uring = new Uring(SQ_ENTRIES, CQ_ENTRIES, TUNE.uring.startsWith("defer") ? SETUP_SINGLE_ISSUER | SETUP_DEFER_TASKRUN : 0);
  private readonly fixed = TUNE.uring.endsWith("fixed");
  private readonly pool: PairSlots;
  private outputs: (RuleOutputs | undefined)[] = [];
  /** the super-frames in flight: which slots each one's completion stands for */
  private readonly groups = new Groups(CQ_ENTRIES);
  /** rules (and their outputs) with GSO datagrams pending this turn, sent before the submit */
  private gsoRules: number[] = [];
  private gsoOuts: RuleOutputs[] = [];
  /** the clock was read in this reap */
  private clockRead = false;
  private readonly templates = new Templates();
  private pipes: (Pipeline | undefined)[] = [];
  /** pipelines with stages that hold packets (delay, reorder, a merge) */
  private holding: Stage[] = [];
  /** the merges of redundant rules, whose paths are watched for silence */
  private merges: MergeStage[] = [];
  /** per rule and path (PATH_COUNTERS) */
  private readonly pc: Float64Array;
  private sockets = new Map<string, number>();
  /** the rules this egress sends for (retiring ones too), by number */
  private specs = new Map<number, EgressRule>();
  /** rule number -> the descriptor ring's head when it began to retire */
  private retiring = new Map<number, number>();
  /** rule number -> its slots in this egress (queued, held by a stage, or being sent) */
  private readonly held: Int32Array;
  /** Class queues (shm/classes.ts): drained every turn, so they hold packets only under congestion. */
  private readonly queues: Int32Array[];
  private readonly qHead = new Uint32Array(3);
  private readonly qTail = new Uint32Array(3);
  private queued = 0;
  /** rule number -> traffic class, -1: from the packet's DSCP */
  private readonly ruleCls: Int8Array;
  private inflight = 0;
  private freed = false;
  /** CLOCK_MONOTONIC ms − performance.now(): the stages' clock and ingress's stamps apart */
  private readonly monoOffset = monotonicNs() / 1e6 - performance.now();
  /** performance.now() when this turn's descriptors were taken */
  private turnMs = 0;
  /** the pair's ingress's counters, read for its quiet words (services/schedule.ts) */
  private readonly partner: Float64Array;

  constructor(private readonly seg: Segment, private readonly pair: number, private readonly busy: BusyPoll | null = null, private readonly onPath: PathEvent = () => {},
    private readonly sched: Schedule | null = null) {
    const l = seg.layout;
    const pl = l.pairs[pair];
    this.c = new Float64Array(seg.buf, pl.egressCounters, EGRESS_COUNTERS.length);
    this.partner = new Float64Array(seg.buf, pl.ingressCounters, INGRESS_COUNTERS.length);
    this.sched?.publishTo(this.c, C.quiet, C.quietCpu);
    this.rc = new Float64Array(seg.buf, pl.egressRules, NRF * l.maxRules);
    this.oc = new Float64Array(seg.buf, pl.egressOutputs, NOF * OUTPUT_ROWS_PER_RULE * l.maxRules);
    this.pc = new Float64Array(seg.buf, pl.egressPaths, NPC * MAX_PATHS * l.maxRules);
    this.desc = new RingConsumer(seg.buf, pl.descRing, l.ringCapacity, ringHeadAddr(seg.addr, pl.descRing));
    this.free = new RingProducer(seg.buf, pl.freeRing, l.ringCapacity);
    this.slotU32 = new Uint32Array(seg.buf);
    this.slotU8 = new Uint8Array(seg.buf);
    this.slotF64 = new Float64Array(seg.buf, 0, Math.floor(seg.buf.byteLength / 8));
    this.trace = new TraceWriter(seg.buf, pl.traceRing, pl.traceStages);
    this.latency = new LatencyWriter(seg.buf, pl.egressLatency, l.maxRules);
    this.refs = new Uint16Array(l.slots + l.jumboSlots);
    this.extra = new Uint8Array(l.slots + l.jumboSlots);
    this.takeNs = new Uint32Array(l.slots + l.jumboSlots);
    this.submitNs = new Uint32Array(l.slots + l.jumboSlots);
    // A power of two (the ring capacity, ≥ every slot), so free-running u32 indices wrap cleanly.
    this.queues = [0, 1, 2].map(() => new Int32Array(l.ringCapacity));
    this.ruleCls = new Int8Array(l.maxRules);
    this.held = new Int32Array(l.maxRules);
    this.pool = new PairSlots(l, pair);
    if (this.fixed) this.uring.files(FIXED_FILES);
  }

  /**
   * Applies a configuration: new sockets, rules added or changed, rules to retire. A retiring rule
   * keeps its outputs until no packet of it is left here (the ring has moved past where ingress
   * stopped matching it, and it holds nothing): then it is gone, and retire() reports it.
   */
  configure(cfg: Gathered<EgressRule>): void {
    for (const s of cfg.sockets) {
      const old = this.sockets.get(s.key);
      if (old !== undefined) this.closeSocket(old);
      this.sockets.set(s.key, cfg.fds[s.fd]);
      if (this.fixed) this.uring.file(cfg.fds[s.fd], true); // fails only beyond the table: then sent unregistered
    }
    for (const r of cfg.put) {
      this.retiring.delete(r.no);
      this.specs.set(r.no, r);
      this.ruleCls[r.no] = r.cls;
      this.outputs[r.no] = ruleOutputs(r, this.sockets, this.templates);
      // A redundant rule is merged in the egress of the pair that reads all of its inputs.
      const red = r.redundancy && r.redundancy.pair === this.pair ? r.redundancy : undefined;
      const spec = r.impairment || red ? JSON.stringify({ link: r.link === true, ...r.impairment, ...(red ? { redundancy: red } : {}) }) : "";
      const old = this.pipes[r.no];
      if (old && old.spec !== spec) this.dropHeld(r.no, old);
      this.pipes[r.no] = !spec ? undefined : old && old.spec === spec ? old : this.pipeline(r.no, spec, r.link === true);
    }
    // Everything of a retiring rule that is still in the ring lies before the head as it is now:
    // ingress stopped matching the rule before this message was sent.
    const head = this.desc.published;
    for (const no of cfg.remove) {
      if (!this.specs.has(no)) continue;
      this.retiring.set(no, head);
      const p = this.pipes[no];
      if (p) this.dropHeld(no, p); // held packets of a rule going away are dropped, counted
      this.pipes[no] = undefined;
    }
    this.holding = this.pipes.flatMap((p) => p?.stages.filter((s) => s.pull) ?? []);
    this.merges = this.pipes.flatMap((p) => (p?.merge ? [p.merge] : []));
    this.closeUnused();
  }

  /** Rules whose retirement is complete: no packet of theirs is left in the ring or here. */
  retire(): number[] {
    if (this.retiring.size === 0) return [];
    const tail = this.desc.position;
    const done: number[] = [];
    for (const [no, at] of this.retiring) {
      if (((tail - at) | 0) >= 0 && this.held[no] === 0) done.push(no);
    }
    for (const no of done) {
      this.retiring.delete(no);
      this.specs.delete(no);
      this.outputs[no] = undefined;
    }
    if (done.length) this.closeUnused();
    return done;
  }

  private dropHeld(no: number, p: Pipeline): void {
    p.merge?.flush(); // what a merge holds is sent, in order (it holds it only for the order)
    for (const s of p.stages) for (const slot of s.held?.() ?? []) this.impairDrop(no, slot);
  }

  /** Sockets no rule (retiring ones included) sends on. One still in flight keeps its file open in
   *  the kernel, so closing it here is safe. */
  private closeUnused(): void {
    const used = new Set<string>();
    for (const r of this.specs.values()) for (const o of r.outputs) used.add(o.socket);
    this.templates.keepOnly(this.specs.values());
    for (const [k, fd] of this.sockets) {
      if (!used.has(k)) {
        this.closeSocket(fd);
        this.sockets.delete(k);
      }
    }
  }

  private closeSocket(fd: number): void {
    if (this.fixed) this.uring.file(fd, false);
    closeFd(fd);
  }

  /** link: the slots hold a virtio_net_hdr and a frame; the stages see the frame's length. */
  private pipeline(rule: number, spec: string, link: boolean): Pipeline {
    const imp = JSON.parse(spec);
    const skip = link ? VNET_HDR_BYTES : 0;
    const ctx: StageContext = {
      len: (slot: number) => this.slotU32[(this.slotOffset(slot) >> 2) + SH.len] - skip,
      bytes: this.slotU8,
      start: (slot: number) => this.slotOffset(slot) + SLOT_HEADER_BYTES + skip,
      frames: link,
      modified: (slot: number) => {
        this.slotU32[(this.slotOffset(slot) >> 2) + SH.csum] = NO_SUM; // egress sums the payload afresh
      },
      random: seeded(imp.seed ?? (Math.random() * 2 ** 32) >>> 0),
      drop: (slot: number) => this.impairDrop(rule, slot),
      duplicate: (slot: number) => {
        this.extra[slot]++;
        this.rc[rule * NRF + RF.duplicated]++;
      },
      now: () => performance.now(),
    };
    const built = buildPipeline(imp, ctx, (slot) => this.enqueue(slot), { shape: link });
    if (!imp.redundancy) return { spec, ...built };
    const red = imp.redundancy;
    const m = merge(red, {
      bytes: this.slotU8,
      start: ctx.start,
      len: ctx.len,
      path: (slot: number) => this.slotU32[(this.slotOffset(slot) >> 2) + SH.path] >>> SLOT_PATH_SHIFT,
      // ingress's stamp (CLOCK_MONOTONIC ms mod 2^32) on the stages' clock (performance.now())
      stamp: (slot: number) => this.turnMs - ((((this.turnMs + this.monoOffset) >>> 0) - this.slotU32[(this.slotOffset(slot) >> 2) + SH.stampMs]) >>> 0),
      now: () => performance.now(),
      pending: () => this.desc.available() > 0,
      counters: this.pc.subarray(rule * MAX_PATHS * NPC, (rule + 1) * MAX_PATHS * NPC),
      discard: (slot: number, why: MergeDrop) => {
        const at = MERGE_DROP[why]; // (indexed, not destructured: no iterator per packet)
        this.c[at[0]]++;
        this.rc[rule * NRF + at[1]]++;
        this.release(slot);
      },
      lost: (n: number) => {
        this.rc[rule * NRF + RF.sequenceLost] += n;
      },
      event: (path: number, up: boolean, silentMs: number) => this.onPath({ rule: red.id, no: rule, path, up, silentMs: Math.round(silentMs) }),
    }, built.head);
    // A new merge starts with its paths not yet heard from.
    for (let p = 0; p < MAX_PATHS; p++) {
      this.pc[(rule * MAX_PATHS + p) * NPC + indexOf(PATH_COUNTERS).up] = 0;
      this.pc[(rule * MAX_PATHS + p) * NPC + indexOf(PATH_COUNTERS).maxLagMs] = 0;
    }
    return { spec, head: (slot) => m.push(slot), stages: [m, ...built.stages], merge: m };
  }

  /** Runs for a while; returns so the caller can read control messages. */
  run(): void {
    let idleSince = 0;
    const started = Bun.nanoseconds();
    for (let turn = 0; turn < 4096; turn++) {
      const n = this.take();
      const due = this.holding.length > 0 ? this.pullHeld() : 0;
      if (this.queued > 0) this.schedule();
      const done = this.inflight > 0 ? this.reap(0) : 0;
      if (this.freed) {
        this.free.publish();
        this.freed = false;
      }
      this.c[C.loops]++;
      if (this.sched !== null) {
        // Quiet while its ingress is: real-time, and on ingress's CPU (services/schedule.ts).
        this.sched.tick(Bun.nanoseconds(), this.partner[IC.quiet] !== 0, this.partner[IC.quietCpu]);
      }
      if (this.merges.length > 0 && (turn % WATCH_TURNS === 0 || n === 0)) this.watch();
      if (n > 0 || done > 0 || due > 0) {
        idleSince = 0;
        const now = Bun.nanoseconds();
        if (n > 0) this.lastTakeNs = now;
        if (now - started > BUSY_RETURN_NS) break; // heartbeat and control on time under load
        continue;
      }
      if (this.inflight > 0 || this.queued > 0) {
        if (this.inflight > 0) this.reap(1); // nothing to take: wait for the kernel to finish a send
        continue;
      }
      const now = Bun.nanoseconds();
      if (this.busy !== null && now - this.lastTakeNs < BUSY_IDLE_NS) {
        yieldCpu(); // the pair's other worker, or anything else, may want this CPU: let it run
        continue;
      }
      if (idleSince === 0) idleSince = now;
      else if (now - idleSince > SPIN_NS) {
        this.c[C.heartbeatMs] = Date.now();
        this.c[C.sleeps]++;
        // Held packets bound the sleep: wake when the next one is due.
        let sleepUs = SLEEP_US;
        for (const s of this.holding) sleepUs = Math.min(sleepUs, Math.max(0, (s.due!() - performance.now()) * 1000));
        const t0 = Bun.nanoseconds();
        if (sleepUs > 0) this.desc.sleep(Math.ceil(sleepUs));
        this.c[C.sleepNs] += Bun.nanoseconds() - t0;
        return;
      }
    }
    this.c[C.heartbeatMs] = Date.now();
  }

  /** A redundant rule's path that brought nothing for its silentMs is silent (logged, its gauge 0). */
  private watch(): void {
    const now = performance.now();
    for (const m of this.merges) m.watch(now);
  }

  /** Everything queued has been sent and nothing waits in the ring or in a stage. */
  idle(): boolean {
    return this.inflight === 0 && this.queued === 0 && this.desc.available() === 0 && this.holding.every((s) => s.due!() === Infinity);
  }

  private take(): number {
    const avail = this.desc.available();
    if (avail > 0 && this.merges.length > 0) this.turnMs = performance.now();
    let n = 0;
    // Bounded by the queues' room: they hold every slot of the pair, so this never overflows.
    while (n < avail && n < TAKE) {
      const slot = this.desc.take();
      n++;
      const so = this.slotOffset(slot);
      const rule = this.slotU32[(so >> 2) + SH.rule];
      if (this.slotU32[(so >> 2) + SH.sampled] === 1) this.takeNs[slot] = monotonicNs() - this.slotF64[(so >> 3) + SH.rxNsF64];
      this.held[rule]++;
      const pipe = this.pipes[rule];
      if (pipe !== undefined) pipe.head(slot);
      else this.enqueue(slot);
    }
    if (n > 0) {
      this.desc.release();
      this.c[C.descriptors] += n;
    }
    return n;
  }

  private enqueue(slot: number): void {
    const h = this.slotOffset(slot) >> 2;
    const r = this.ruleCls[this.slotU32[h + SH.rule]];
    const k = r >= 0 ? r : classOf(this.slotU32[h + SH.tos] >> 2);
    this.queues[k][this.qTail[k]++ % this.queues[k].length] = slot;
    this.queued++;
  }

  /** Weighted rounds, highest class first, while the in-flight budget lasts; then the GSO
   *  outputs' super-frames of what the rounds queued. */
  private schedule(): void {
    while (this.queued > 0 && this.inflight < MAX_INFLIGHT) {
      for (let k = 2; k >= 0; k--) {
        const q = this.queues[k];
        for (let w = 0; w < WEIGHTS[k] && this.qHead[k] !== this.qTail[k] && this.inflight < MAX_INFLIGHT; w++) {
          this.emit(q[this.qHead[k]++ % q.length]);
          this.queued--;
        }
      }
    }
    for (let r = 0; r < this.gsoOuts.length; r++) {
      const outs = this.gsoOuts[r];
      for (let i = 0; i < outs.n; i++) if (outs.pending!.n[i] > 0) this.sendPending(outs, this.gsoRules[r], i);
      outs.pending!.listed = false;
    }
    this.gsoOuts.length = 0;
    this.gsoRules.length = 0;
  }

  private pullHeld(): number {
    const before = this.c[C.sends];
    const now = performance.now();
    for (const s of this.holding) if (s.due!() <= now) s.pull!(now);
    return this.c[C.sends] - before;
  }

  /** Queues the slot's sends: one per output, times its copies. */
  private emit(slot: number): void {
    const so = this.slotOffset(slot);
    const h = so >> 2;
    const rule = this.slotU32[h + SH.rule];
    const len = this.slotU32[h + SH.len];
    const outs = this.outputs[rule];
    const copies = 1 + this.extra[slot];
    this.extra[slot] = 0;
    if (outs === undefined || outs.n === 0) {
      this.c[C.drop_no_output]++; // a rule whose outputs could not be opened
      this.rc[rule * NRF + RF.drop_no_output]++;
      this.release(slot);
      return;
    }
    const buf = this.seg.addr + so + SLOT_HEADER_BYTES;
    const tos = this.slotU32[h + SH.tos];
    const sum = this.slotU32[h + SH.csum];
    let queued = 0;
    for (let i = 0; i < outs.n; i++) {
      const tag = outs.tag[i];
      if (len > outs.maxLen[i]) {
        // Never fragmented: a receiver that loses one fragment loses the datagram, silently.
        this.c[C.drop_mtu_exceeded] += copies;
        this.rc[rule * NRF + RF.drop_mtu_exceeded] += copies;
        if (tag !== 0) this.oc[(tag - 1) * NOF + OF.drop_mtu_exceeded] += copies;
        continue;
      }
      if (outs.gso[i] === 1 && copies === 1) {
        this.pend(outs, rule, i, slot, len, tos);
        queued++;
        continue;
      }
      const data = userData(slot, tag);
      const t = outs.tmpl[i];
      for (let k = 0; k < copies; k++) {
        if (outs.gso[i] === 1) this.uring.gsoAddrs[0] = buf; // a duplicated copy: a plain frame on the GSO socket
        const rc = outs.gso[i] === 1 ? this.uring.sendGso(outs.fds[i], t, 1, len, tos, sum, data)
          : t !== 0 ? this.uring.sendRaw(outs.fds[i], t, buf, len, tos, sum, data)
          : outs.preserve[i] !== 0 ? this.uring.sendTos(outs.fds[i], buf, len, tos, outs.preserve[i] === 2, data) : this.uring.send(outs.fds[i], buf, len, data);
        if (rc === 0) queued++;
        else this.sendFailed(rule, tag, rc);
      }
    }
    this.slotU32[h + SH.outputs] = outs.n;
    if (this.slotU32[h + SH.sampled] === 1 && this.nSampledQueued < this.sampledQueued.length) this.sampledQueued[this.nSampledQueued++] = slot;
    this.refs[slot] = queued;
    this.inflight += queued;
    this.c[C.sends] += queued;
    if (queued === 0) this.release(slot);
  }

  /** The slot joins output i's pending super-frame; one of another length (or TOS, where the output
   *  copies it), or a full one, goes first. */
  private pend(outs: RuleOutputs, rule: number, i: number, slot: number, len: number, tos: number): void {
    const p = outs.pending!;
    const n = p.n[i];
    if (n > 0 && (p.len[i] !== len || (outs.keepTos[i] === 1 && p.tos[i] !== tos) || n === gsoCap(len))) this.sendPending(outs, rule, i);
    if (!p.listed) {
      p.listed = true;
      this.gsoOuts.push(outs);
      this.gsoRules.push(rule);
    }
    p.slots[i * GSO_MAX + p.n[i]++] = slot;
    p.len[i] = len;
    p.tos[i] = tos;
  }

  /** Queues output i's pending datagrams: one super-frame (one completion for the group), or a
   *  plain frame for one alone. emit() counted each as a send in flight: a super-frame is one. */
  private sendPending(outs: RuleOutputs, rule: number, i: number): void {
    const p = outs.pending!;
    const k = p.n[i];
    p.n[i] = 0;
    const base = i * GSO_MAX;
    const tag = outs.tag[i];
    const u = this.uring;
    for (let j = 0; j < k; j++) u.gsoAddrs[j] = this.seg.addr + this.slotOffset(p.slots[base + j]) + SLOT_HEADER_BYTES;
    const first = this.slotOffset(p.slots[base]) >> 2;
    const g = k > 1 ? this.groups.open(p, base, k) : -1;
    const rc = k > 1 && g < 0 ? -E.EBUSY // cannot be: there are as many groups as sends in flight
      : u.sendGso(outs.fds[i], outs.tmpl[i], k, p.len[i], p.tos[i], k === 1 ? this.slotU32[first + SH.csum] : NO_SUM,
        userData(k > 1 ? GROUP_BIT + g : p.slots[base], tag));
    if (rc !== 0) {
      if (g >= 0) this.groups.close(g);
      for (let j = 0; j < k; j++) {
        const slot = p.slots[base + j];
        this.sendFailed(rule, tag, rc);
        this.inflight--;
        this.c[C.sends]--;
        if (--this.refs[slot] === 0) this.release(slot);
      }
      return;
    }
    if (k > 1) {
      this.inflight -= k - 1;
      this.c[C.gsoSends]++;
      this.c[C.gsoDatagrams] += k;
    }
  }

  private sendFailed(rule: number, tag: number, rc: number): void {
    this.c[C.drop_send_error]++;
    this.c[ERRNO_COUNTER[-rc & 4095]]++;
    this.rc[rule * NRF + RF.drop_send_error]++;
    if (tag !== 0) this.oc[(tag - 1) * NOF + OF.drop_send_error]++;
  }

  private impairDrop(rule: number, slot: number): void {
    this.c[C.drop_impairment]++;
    this.rc[rule * NRF + RF.drop_impairment]++;
    this.extra[slot] = 0;
    this.release(slot);
  }

  /** The slot goes back to ingress. The free ring holds every slot of the pair: this cannot fail. */
  private release(slot: number): void {
    this.held[this.slotU32[(this.slotOffset(slot) >> 2) + SH.rule]]--;
    this.free.push(slot);
    this.freed = true;
  }

  private reap(waitFor: number): number {
    if (this.nSampledQueued > 0) this.stampSubmit();
    const k = this.uring.flush(waitFor);
    const cq = this.uring.completions;
    this.clockRead = false;
    for (let i = 0; i < k; i++) {
      const slot = cq[3 * i];
      const res = cq[3 * i + 1];
      const tag = cq[3 * i + 2];
      if (slot >= 0) {
        this.complete(slot, res, tag);
        continue;
      }
      // A super-frame: its result stands for each of its datagrams.
      const g = slot & ~GROUP_BIT;
      for (let j = 0, n = this.groups.size(g); j < n; j++) this.complete(this.groups.slot(g, j), res, tag);
      this.groups.close(g);
    }
    this.inflight -= k;
    this.c[C.inflight] = this.inflight;
    return k;
  }

  /** One send of the slot completed with res (bytes, or -errno). */
  private complete(slot: number, res: number, tag: number): void {
    const so = this.slotOffset(slot);
    const h = so >> 2;
    const rule = this.slotU32[h + SH.rule];
    if (res < 0) this.sendFailed(rule, tag, res);
    else {
      // Payload bytes, whichever way it went (a raw send's result counts its headers too).
      const len = this.slotU32[h + SH.len];
      const rb = rule * NRF;
      this.c[C.completions]++;
      this.c[C.txBytes] += len;
      this.rc[rb + RF.txPackets]++;
      this.rc[rb + RF.txBytes] += len;
      if (tag !== 0) {
        const ob = (tag - 1) * NOF;
        this.oc[ob + OF.txPackets]++;
        this.oc[ob + OF.txBytes] += len;
      }
    }
    if (--this.refs[slot] === 0) {
      if (!this.clockRead) {
        this.clock.read();
        this.clockRead = true;
      }
      this.latency.add(rule, this.clock.since(this.slotU32[h + SH.rxSec], this.slotU32[h + SH.rxNsec]));
      if (this.slotU32[h + SH.sampled] === 1) {
        const u = this.slotU32;
        this.trace.write(u[h + SH.rule], u[h + SH.src], u[h + SH.dst], u[h + SH.ports], u[h + SH.len], u[h + SH.outputs],
          this.slotF64[(so >> 3) + SH.rxNsF64], monotonicNs(), u[h + SH.family], u[h + SH.ringWaitNs] & RING_WAIT_MASK, this.takeNs[slot], this.submitNs[slot]);
        this.c[C.traced]++;
      }
      this.release(slot);
    }
  }

  /** The sampled slots queued since the last submit: their submit time is now. */
  private stampSubmit(): void {
    const now = monotonicNs();
    for (let i = 0; i < this.nSampledQueued; i++) {
      const slot = this.sampledQueued[i];
      const so = this.slotOffset(slot);
      this.submitNs[slot] = now - this.slotF64[(so >> 3) + SH.rxNsF64];
    }
    this.nSampledQueued = 0;
  }

  private slotOffset(slot: number): number {
    return this.pool.offset(slot);
  }

  close(): void {
    while (this.inflight > 0) this.reap(1);
    this.uring.close();
    for (const fd of this.sockets.values()) closeFd(fd);
    this.sockets.clear();
    this.templates.close();
  }

  summary() {
    return snapshot(this.c, EGRESS_COUNTERS);
  }
}
