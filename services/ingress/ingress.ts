// The ingress loop. Per packet: read the TPACKET_V3 (or V2) header, parse, match, take a slot,
// one memcpy (through C), push the slot index. Per block (V2: per pass over the ready frames): one
// atomic publish. No allocation, no Promise, no system call per packet; poll() only when idle.
import { packetMap, packetStats, unmap } from "../../c/packet.ts";
import { closeFd } from "../../c/inet.ts";
import { PollSet, copy, monotonicNs, type Mapping } from "../../c/sys.ts";
import { indexOf, snapshot } from "../../shm/counters.ts";
import {
  INGRESS_COUNTERS, INGRESS_RULE_COUNTERS, JUMBO_PAYLOAD_MAX, PARSE_DROPS, PairSlots, SH, SLOT_HEADER_BYTES, STD_PAYLOAD_MAX,
} from "../../shm/layout.ts";
import { SlotStacks } from "../../shm/pool.ts";
import { BEST_EFFORT, RESERVE, classOf } from "../../shm/classes.ts";
import { RingConsumer, RingProducer, ringHeadAddr } from "../../shm/ring.ts";
import type { Segment } from "../../shm/segment.ts";
import type { IngressInput, IngressRule } from "../protocol/worker.ts";
import { readTune } from "../tune.ts";
import { MatchTable } from "./match.ts";
import { F, parseFrame } from "./parse.ts";

const TP_STATUS_KERNEL = 0;
const TP_STATUS_USER = 1;
const TP_STATUS_VLAN_VALID = 0x10;
/** sockaddr_ll.sll_pkttype, after the 48-byte aligned tpacket3_hdr (V2: 32-byte tpacket2_hdr). */
const PKTTYPE_OFF = 48 + 10;
const PKTTYPE_OFF_V2 = 32 + 10;
/** V2: frames handled before one publish, so egress starts on a long run early. */
const V2_BATCH = 256;
const PACKET_OUTGOING = 4;

const C = indexOf(INGRESS_COUNTERS);
const RF = indexOf(INGRESS_RULE_COUNTERS);
const NRF = INGRESS_RULE_COUNTERS.length;
/** The parser's reasons are contiguous counters: code k counts at DROP0 + k - 1. */
const DROP0 = C[`drop_${PARSE_DROPS[0]}`];
const OVERSIZE = C.drop_oversize;
const NO_RULE = C.drop_no_rule;
const OUTGOING = C.drop_outgoing;
const RULE_DOWN = C.drop_rule_down;

/** MCRELAY_TRACING=off leaves the sampling out of the per-packet path (for measuring its cost):
 *  a constant, so the JIT drops the branch. */
const TRACING = process.env.MCRELAY_TRACING !== "off";

/** Spin this long after the last packet before sleeping (MCRELAY_TUNE_SPIN_US). */
const SPIN_NS = readTune().spinUs * 1000;
const SLEEP_MS = 100;
/** Longest a busy run() goes before it writes its heartbeat and reads control messages. */
const BUSY_RETURN_NS = 50_000_000;

interface Input {
  ifname: string;
  fd: number;
  map: Mapping;
  size: number;
  u8: Uint8Array;
  i32: Int32Array;
  blockSize: number;
  blockCount: number;
  /** V2 rings: frame geometry; cur counts frames instead of blocks. */
  v2: boolean;
  frameSize: number;
  framesPerBlock: number;
  frameCount: number;
  cur: number;
}

export class Ingress {
  private readonly c: Float64Array;
  private readonly rc: Float64Array;
  private readonly desc: RingProducer;
  private readonly free: RingConsumer;
  private readonly stacks: SlotStacks;
  private readonly slotU32: Uint32Array;
  private readonly parsed = new Uint32Array(8);
  private readonly pool: PairSlots;
  private readonly slots: number;
  private readonly jumbo: number;
  private inputs: Input[] = [];
  private match = new MatchTable([]);
  /** rule number -> 1 when the rule is down (matched, counted, not forwarded) */
  private readonly down: Uint8Array;
  /** rule number -> share of packets to trace; 0 costs one load and compare per packet */
  private readonly sample: Float64Array;
  private readonly slotF64: Float64Array;
  /** rule number -> traffic class, -1: from the packet's DSCP */
  private readonly cls: Int8Array;
  /** free slots a class must leave for the classes above it */
  private readonly reserve: Int32Array;
  private poll: PollSet;
  private lastStatsMs = 0;

  constructor(private readonly seg: Segment, pair: number, private readonly controlFd: number, replacesDeadIngress = false) {
    const l = seg.layout;
    const pl = l.pairs[pair];
    this.c = new Float64Array(seg.buf, pl.ingressCounters, INGRESS_COUNTERS.length);
    this.rc = new Float64Array(seg.buf, pl.ingressRules, NRF * l.maxRules);
    this.desc = new RingProducer(seg.buf, pl.descRing, l.ringCapacity, ringHeadAddr(seg.addr, pl.descRing));
    this.free = new RingConsumer(seg.buf, pl.freeRing, l.ringCapacity);
    this.stacks = new SlotStacks(l.slots, l.jumboSlots);
    this.slotU32 = new Uint32Array(seg.buf);
    this.down = new Uint8Array(l.maxRules);
    this.sample = new Float64Array(l.maxRules);
    this.cls = new Int8Array(l.maxRules);
    this.reserve = new Int32Array(RESERVE.map((r) => Math.floor(r * (l.slots + l.jumboSlots))));
    this.slotF64 = new Float64Array(seg.buf, 0, Math.floor(seg.buf.byteLength / 8));
    this.pool = new PairSlots(l, pair);
    this.slots = l.slots;
    this.jumbo = l.jumboSlots;
    this.poll = new PollSet([controlFd]);
    // Egress was drained before we started: every slot is either in the free ring or was on the
    // dead ingress's stacks. Start with all of them and drop the ring's copies.
    if (replacesDeadIngress) this.free.discardAll();
    this.c[C.freeSlots] = this.stacks.free;
  }

  /** Egress died: slots in neither ring nor on our stacks were its own, and are ours again. */
  reclaim(): number {
    const inRings = new Set<number>();
    this.desc.forEachPending((v) => inRings.add(v));
    this.free.forEachPending((v) => inRings.add(v));
    const n = this.stacks.reclaim(this.slots + this.jumbo, inRings);
    this.c[C.freeSlots] = this.stacks.free + this.free.pending();
    return n;
  }

  /** While paused: only the heartbeat, so the watchdog knows we are alive. */
  idleWait(ms: number): void {
    this.c[C.heartbeatMs] = Date.now();
    const t0 = Bun.nanoseconds();
    new PollSet([this.controlFd]).wait(ms);
    this.c[C.sleepNs] += Bun.nanoseconds() - t0;
  }

  /** Applies a new input set and rule table between batches; unchanged inputs keep their ring. */
  configure(inputs: IngressInput[], rules: IngressRule[], fds: number[]): void {
    const keep: Input[] = [];
    for (const spec of inputs) {
      const old = this.inputs.find((i) => i.ifname === spec.ifname);
      if (spec.fd === undefined && old) {
        keep.push(old);
        continue;
      }
      if (spec.fd === undefined) throw new Error(`config names input ${spec.ifname} without a socket`);
      if (old) this.closeInput(old);
      const g = spec.geometry;
      const size = g.blockSize * g.blockCount;
      const fd = fds[spec.fd];
      const map = packetMap(fd, size);
      keep.push({ ifname: spec.ifname, fd, map, size, u8: new Uint8Array(map.buf), i32: new Int32Array(map.buf),
        blockSize: g.blockSize, blockCount: g.blockCount, cur: 0, v2: g.version === 2, frameSize: g.frameSize,
        framesPerBlock: Math.floor(g.blockSize / g.frameSize), frameCount: Math.floor(g.blockSize / g.frameSize) * g.blockCount });
    }
    for (const old of this.inputs) if (!keep.includes(old)) this.closeInput(old);
    this.inputs = keep;
    const idx = new Map(keep.map((inp, i) => [inp.ifname, i]));
    this.match = new MatchTable(rules.filter((r) => idx.has(r.ifname)).map((r) => ({ ...r, input: idx.get(r.ifname)! })));
    this.down.fill(0);
    this.sample.fill(0);
    for (const r of rules) {
      if (r.down) this.down[r.no] = 1;
      this.sample[r.no] = r.sample;
      this.cls[r.no] = r.cls;
    }
    this.poll = new PollSet([this.controlFd, ...keep.map((i) => i.fd)]);
  }

  /** Runs until a control message may be waiting; the caller reads it, then calls run() again. */
  run(control: () => void): void {
    let idleSince = 0;
    const started = Bun.nanoseconds();
    for (let turn = 0; turn < 4096; turn++) {
      let n = 0;
      for (let i = 0; i < this.inputs.length; i++) {
        const inp = this.inputs[i];
        n += inp.v2 ? this.drainFrames(inp, i) : this.drain(inp, i);
      }
      this.c[C.loops]++;
      if (n > 0) {
        idleSince = 0;
        // A busy turn can take a millisecond (a full block): return on time, not only on turns, so
        // the heartbeat and control messages never wait long under load (the watchdog kills at 3 s).
        if (Bun.nanoseconds() - started > BUSY_RETURN_NS) break;
        continue;
      }
      const now = Bun.nanoseconds();
      if (idleSince === 0) idleSince = now;
      else if (now - idleSince > SPIN_NS) {
        this.housekeeping();
        this.c[C.sleeps]++;
        const t0 = Bun.nanoseconds();
        this.poll.wait(SLEEP_MS);
        this.c[C.sleepNs] += Bun.nanoseconds() - t0;
        if (this.poll.revents[0] !== 0) break;
        idleSince = 0;
      }
    }
    this.housekeeping();
    control();
  }

  private housekeeping(): void {
    const now = Date.now();
    this.c[C.heartbeatMs] = now;
    this.c[C.freeSlots] = this.stacks.free + this.free.pending();
    if (now - this.lastStatsMs >= 500) {
      this.lastStatsMs = now;
      for (const inp of this.inputs) {
        const s = packetStats(inp.fd);
        this.c[C.kernelPackets] += s.packets;
        this.c[C.drop_kernel_ring_full] += s.drops;
        this.c[C.kernelFreezes] += s.freezes;
      }
    }
  }

  private drain(inp: Input, input: number): number {
    const i32 = inp.i32;
    let n = 0;
    for (;;) {
      const blk = inp.cur * inp.blockSize;
      if ((Atomics.load(i32, (blk + 8) >> 2) & TP_STATUS_USER) === 0) break;
      const num = i32[(blk + 12) >> 2];
      let p = blk + i32[(blk + 16) >> 2];
      for (let k = 0; k < num; k++) {
        const mac = inp.u8[p + 24] | (inp.u8[p + 25] << 8);
        if (inp.u8[p + PKTTYPE_OFF] === PACKET_OUTGOING) {
          this.c[C.frames]++;
          this.c[OUTGOING]++; // our own sends, on kernels that cannot filter them in a fanout group
        } else this.frame(inp, input, p + mac, i32[(p + 12) >> 2], i32[(p + 16) >> 2], i32[(p + 20) >> 2]);
        p += i32[p >> 2];
      }
      Atomics.store(i32, (blk + 8) >> 2, TP_STATUS_KERNEL);
      inp.cur = inp.cur + 1 === inp.blockCount ? 0 : inp.cur + 1;
      n += num;
      this.desc.publish();
    }
    return n;
  }

  /** TPACKET_V2: every frame has its own status word; tpacket2_hdr: status, len, snaplen, mac (u16). */
  private drainFrames(inp: Input, input: number): number {
    const i32 = inp.i32;
    let n = 0;
    while (n < V2_BATCH) {
      const f = Math.floor(inp.cur / inp.framesPerBlock) * inp.blockSize + (inp.cur % inp.framesPerBlock) * inp.frameSize;
      const status = Atomics.load(i32, f >> 2);
      if ((status & TP_STATUS_USER) === 0) break;
      if (inp.u8[f + PKTTYPE_OFF_V2] === PACKET_OUTGOING) {
        this.c[C.frames]++;
        this.c[OUTGOING]++;
      } else this.frame(inp, input, f + (inp.u8[f + 12] | (inp.u8[f + 13] << 8)), i32[(f + 8) >> 2], i32[(f + 4) >> 2], status);
      Atomics.store(i32, f >> 2, TP_STATUS_KERNEL);
      inp.cur = inp.cur + 1 === inp.frameCount ? 0 : inp.cur + 1;
      n++;
    }
    if (n > 0) this.desc.publish();
    return n;
  }

  private frame(inp: Input, input: number, off: number, snap: number, wireLen: number, status: number): void {
    const c = this.c;
    const P = this.parsed;
    c[C.frames]++;
    if (snap < wireLen) {
      c[OVERSIZE]++; // larger than a ring block: never a frame we could relay whole
      return;
    }
    const r = parseFrame(inp.u8, off, snap, (status & TP_STATUS_VLAN_VALID) !== 0, P);
    if (r !== 0) {
      c[DROP0 + r - 1]++;
      return;
    }
    const rule = this.match.lookup(input, P[F.dst], P[F.dport], P[F.src]);
    if (rule < 0) {
      c[NO_RULE]++;
      return;
    }
    const rb = rule * NRF;
    if (this.down[rule] === 1) {
      c[RULE_DOWN]++;
      this.rc[rb + RF.drop_rule_down]++;
      return;
    }
    const len = P[F.payloadLen];
    let slot: number;
    if (len <= STD_PAYLOAD_MAX) {
      slot = this.stacks.takeStd();
      if (slot < 0 && this.stacks.refill(this.free) > 0) slot = this.stacks.takeStd();
    } else if (len <= JUMBO_PAYLOAD_MAX && this.jumbo > 0) {
      slot = this.stacks.takeJumbo();
      if (slot < 0 && this.stacks.refill(this.free) > 0) slot = this.stacks.takeJumbo();
    } else {
      c[OVERSIZE]++;
      this.rc[rb + RF.drop_oversize]++;
      return;
    }
    // Under pressure a lower class leaves the last slots to the classes above it. Best effort's
    // reserve is the largest, so above it no class is held back and nothing more is computed.
    if (slot >= 0 && this.stacks.free < this.reserve[BEST_EFFORT]) {
      const k = this.cls[rule] >= 0 ? this.cls[rule] : classOf(P[F.tos] >> 2);
      if (this.stacks.free < this.reserve[k]) {
        this.stacks.refill(this.free); // what egress has returned may lift us above the line
        if (this.stacks.free < this.reserve[k]) {
          this.stacks.give(slot);
          slot = -1;
        }
      }
    }
    if (slot < 0) {
      c[C.drop_pool_exhausted]++;
      this.rc[rb + RF.drop_pool_exhausted]++;
      return;
    }
    if (this.desc.space() === 0) {
      this.stacks.give(slot);
      c[C.drop_ring_full]++;
      this.rc[rb + RF.drop_ring_full]++;
      return;
    }
    const so = this.pool.offset(slot);
    const h = so >> 2;
    this.slotU32[h + SH.rule] = rule;
    this.slotU32[h + SH.len] = len;
    this.slotU32[h + SH.tos] = P[F.tos];
    const ratio = TRACING ? this.sample[rule] : 0;
    if (TRACING && ratio !== 0 && Math.random() < ratio) {
      this.slotU32[h + SH.sampled] = 1;
      this.slotU32[h + SH.src] = P[F.src];
      this.slotU32[h + SH.dst] = P[F.dst];
      this.slotU32[h + SH.ports] = ((P[F.sport] << 16) | P[F.dport]) >>> 0;
      this.slotF64[(so >> 3) + SH.rxNsF64] = monotonicNs();
      c[C.sampled]++;
    } else this.slotU32[h + SH.sampled] = 0;
    copy(this.seg.addr + so + SLOT_HEADER_BYTES, inp.map.addr + P[F.payloadOff], len);
    this.desc.push(slot);
    c[C.matched]++;
    c[C.bytes] += len;
    this.rc[rb + RF.rxPackets]++;
    this.rc[rb + RF.rxBytes] += len;
  }

  private closeInput(inp: Input): void {
    unmap(inp.map, inp.size);
    closeFd(inp.fd);
  }

  close(): void {
    this.desc.publish();
    for (const inp of this.inputs) this.closeInput(inp);
    this.inputs = [];
  }

  summary() {
    return snapshot(this.c, INGRESS_COUNTERS);
  }
}
