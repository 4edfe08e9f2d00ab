// The egress loop. Per descriptor: look up the rule's output sockets, queue one io_uring send
// per output from the same slot (fan-out without copies). Per turn: one submit, then every
// completion is reaped; a slot goes back to ingress when its last output has completed.
import { closeFd } from "../../c/inet.ts";
import { Uring } from "../../c/uring.ts";
import { indexOf, snapshot } from "../../shm/counters.ts";
import { EGRESS_COUNTERS, EGRESS_RULE_FIELDS, JUMBO_SLOT_BYTES, SH, SLOT_HEADER_BYTES, STD_SLOT_BYTES } from "../../shm/layout.ts";
import { TraceWriter } from "../../shm/trace.ts";
import { monotonicNs } from "../../c/sys.ts";
import { RingConsumer, RingProducer, ringHeadAddr } from "../../shm/ring.ts";
import type { Segment } from "../../shm/segment.ts";
import type { EgressConfigMsg } from "../control.ts";

const C = indexOf(EGRESS_COUNTERS);
const RF = indexOf(EGRESS_RULE_FIELDS);
const NRF = EGRESS_RULE_FIELDS.length;

const SQ_ENTRIES = 256;
/** The CQ holds 4x the SQ (uring.c); keep in-flight sends below it so none overflows. */
const MAX_INFLIGHT = SQ_ENTRIES * 4 - 64;
const BATCH = 64;
const SPIN_NS = 50_000;
const SLEEP_US = 100_000;

export class Egress {
  private readonly c: Float64Array;
  private readonly rc: Float64Array;
  private readonly desc: RingConsumer;
  private readonly free: RingProducer;
  private readonly slotU32: Uint32Array;
  private readonly slotF64: Float64Array;
  private readonly trace: TraceWriter;
  private readonly refs: Uint16Array;
  private readonly uring = new Uring(SQ_ENTRIES);
  private readonly poolOff: number;
  private readonly jumboOff: number;
  private readonly slots: number;
  /** rule number -> fds of its outputs */
  private outputs: (Int32Array | undefined)[] = [];
  private sockets = new Map<string, number>();
  private inflight = 0;

  constructor(private readonly seg: Segment, pair: number) {
    const l = seg.layout;
    const pl = l.pairs[pair];
    this.c = new Float64Array(seg.buf, pl.egressCounters, EGRESS_COUNTERS.length);
    this.rc = new Float64Array(seg.buf, pl.egressRules, NRF * l.maxRules);
    this.desc = new RingConsumer(seg.buf, pl.descRing, l.ringCapacity, ringHeadAddr(seg.addr, pl.descRing));
    this.free = new RingProducer(seg.buf, pl.freeRing, l.ringCapacity);
    this.slotU32 = new Uint32Array(seg.buf);
    this.slotF64 = new Float64Array(seg.buf, 0, Math.floor(seg.buf.byteLength / 8));
    this.trace = new TraceWriter(seg.buf, pl.traceRing);
    this.refs = new Uint16Array(l.slots + l.jumboSlots);
    this.poolOff = pl.pool;
    this.jumboOff = pl.jumboPool;
    this.slots = l.slots;
  }

  /** New sockets arrive with the message; sockets no rule uses any more are closed. */
  configure(cfg: EgressConfigMsg, fds: number[]): void {
    for (const s of cfg.sockets) {
      const old = this.sockets.get(s.key);
      if (old !== undefined) closeFd(old);
      this.sockets.set(s.key, fds[s.fd]);
    }
    const outputs: (Int32Array | undefined)[] = [];
    const used = new Set<string>();
    for (const r of cfg.rules) {
      const fdsOf = r.outputs.filter((k) => this.sockets.has(k));
      fdsOf.forEach((k) => used.add(k));
      outputs[r.no] = new Int32Array(fdsOf.map((k) => this.sockets.get(k)!));
    }
    this.outputs = outputs;
    // A socket still in flight keeps its file open in the kernel, so closing it here is safe.
    for (const [k, fd] of this.sockets) {
      if (!used.has(k)) {
        closeFd(fd);
        this.sockets.delete(k);
      }
    }
  }

  /** Runs for a while; returns so the caller can read control messages. */
  run(): void {
    let idleSince = 0;
    for (let turn = 0; turn < 4096; turn++) {
      const n = this.take();
      const done = this.inflight > 0 ? this.reap(0) : 0;
      this.c[C.loops]++;
      if (n > 0 || done > 0) {
        idleSince = 0;
        continue;
      }
      if (this.inflight > 0) {
        this.reap(1); // nothing to take: wait for the kernel to finish a send
        continue;
      }
      const now = Bun.nanoseconds();
      if (idleSince === 0) idleSince = now;
      else if (now - idleSince > SPIN_NS) {
        this.c[C.heartbeatMs] = Date.now();
        this.c[C.sleeps]++;
        const t0 = Bun.nanoseconds();
        this.desc.sleep(SLEEP_US);
        this.c[C.sleepNs] += Bun.nanoseconds() - t0;
        return;
      }
    }
    this.c[C.heartbeatMs] = Date.now();
  }

  /** Everything queued has been sent and nothing waits in the ring. */
  idle(): boolean {
    return this.inflight === 0 && this.desc.available() === 0;
  }

  private take(): number {
    const avail = this.desc.available();
    let n = 0;
    while (n < avail && n < BATCH && this.inflight < MAX_INFLIGHT) {
      const slot = this.desc.take();
      n++;
      const so = this.slotOffset(slot);
      const rule = this.slotU32[so >> 2];
      const len = this.slotU32[(so >> 2) + 1];
      const outs = this.outputs[rule];
      if (outs === undefined || outs.length === 0) {
        this.c[C.unknownRule]++;
        this.free.push(slot);
        continue;
      }
      const buf = this.seg.addr + so + SLOT_HEADER_BYTES;
      let queued = 0;
      for (let i = 0; i < outs.length; i++) {
        if (this.uring.send(outs[i], buf, len, slot) === 0) queued++;
        else {
          this.c[C.sendErrors]++;
          this.rc[rule * NRF + RF.sendErrors]++;
        }
      }
      if (queued === 0) this.free.push(slot);
      this.refs[slot] = queued;
      this.slotU32[(so >> 2) + SH.outputs] = queued;
      this.inflight += queued;
      this.c[C.sends] += queued;
    }
    if (n > 0) {
      this.desc.release();
      this.c[C.descriptors] += n;
      this.free.publish();
    }
    return n;
  }

  private reap(waitFor: number): number {
    const k = this.uring.flush(waitFor);
    const cq = this.uring.completions;
    let freed = 0;
    for (let i = 0; i < k; i++) {
      const slot = cq[2 * i];
      const res = cq[2 * i + 1];
      const so = this.slotOffset(slot);
      const rb = this.slotU32[so >> 2] * NRF;
      if (res < 0) {
        this.c[C.sendErrors]++;
        this.rc[rb + RF.sendErrors]++;
      } else {
        this.c[C.completions]++;
        this.c[C.txBytes] += res;
        this.rc[rb + RF.txPackets]++;
        this.rc[rb + RF.txBytes] += res;
      }
      // The free ring holds every slot of the pair, so these pushes cannot fail.
      if (--this.refs[slot] === 0) {
        const h = so >> 2;
        if (this.slotU32[h + SH.sampled] === 1) {
          const u = this.slotU32;
          this.trace.write(u[h + SH.rule], u[h + SH.src], u[h + SH.dst], u[h + SH.ports], u[h + SH.len], u[h + SH.outputs],
            this.slotF64[(so >> 3) + SH.rxNsF64], monotonicNs());
          this.c[C.traced]++;
        }
        this.free.push(slot);
        freed++;
      }
    }
    this.inflight -= k;
    this.c[C.inflight] = this.inflight;
    if (freed > 0) this.free.publish();
    return k;
  }

  private slotOffset(slot: number): number {
    return slot < this.slots ? this.poolOff + slot * STD_SLOT_BYTES : this.jumboOff + (slot - this.slots) * JUMBO_SLOT_BYTES;
  }

  close(): void {
    while (this.inflight > 0) this.reap(1);
    this.uring.close();
    for (const fd of this.sockets.values()) closeFd(fd);
    this.sockets.clear();
  }

  summary() {
    return snapshot(this.c, EGRESS_COUNTERS);
  }
}
