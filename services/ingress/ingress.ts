// The ingress loop. Per frame: read its ring header, parse, match, take a slot, one copy (through
// C; with the UDP checksum summed on the way when it has to be checked), push the slot index with
// the kernel's receive time in its header. Per batch (a V3 block, or up to 256 V2 frames): record
// progress, add the batch's counters, one atomic publish, hand the batch back to the kernel. No
// allocation, no Promise, no system call per frame. When idle: poll() (woken by the next frame),
// or at high rates a short timed hold first (moderation.ts); with --low-latency it busy-polls.
import { K } from "../../c/kernel.ts";
import { packetStats, packetTakeCopy, VNET_HDR_BYTES } from "../../c/packet.ts";
import { NO_SUM } from "../../c/uring.ts";
import { PollSet, RealtimeClock, copy, copySum, monotonicNs } from "../../c/sys.ts";
import { yieldCpu } from "../../c/sched.ts";
import { indexOf, snapshot } from "../../shm/counters.ts";
import {
  INGRESS_COUNTERS, INGRESS_RULE_COUNTERS, JUMBO_PAYLOAD_MAX, MAX_INPUTS, PARSE_DROPS, PROGRESS_WORDS, PairSlots, SH, SLOT_HEADER_BYTES,
  RING_WAIT_MASK, SLOT_PATH_SHIFT, STD_PAYLOAD_MAX,
} from "../../shm/layout.ts";
import { SlotStacks } from "../../shm/pool.ts";
import { BEST_EFFORT, RESERVE, classOf } from "../../shm/classes.ts";
import { RingConsumer, RingProducer, ringHeadAddr } from "../../shm/ring.ts";
import type { Segment } from "../../shm/segment.ts";
import type { BusyPoll, IngressInput, IngressLink, IngressRule } from "../protocol/worker.ts";
import { LinkEnd } from "./link-end.ts";
import { FlowTopWriter } from "../../shm/flowtop.ts";
import { readTune } from "../tune.ts";
import { MatchTable, NO_VLAN, PATH_SHIFT, RULE_MASK } from "./match.ts";
import { Moderation } from "./moderation.ts";
import type { Schedule } from "../schedule.ts";
import { F, NOT_UDP_CODE, PARSED_FIELDS, parseFrame, udpChecksumOk } from "./parse.ts";
import { UDP } from "../../rules/protocols.ts";
import { openRing, type RxRing } from "./rx-ring.ts";
import { StagedCounters } from "./staged-counters.ts";

const C = indexOf(INGRESS_COUNTERS);
const RF = indexOf(INGRESS_RULE_COUNTERS);
const NRF = INGRESS_RULE_COUNTERS.length;
/** The parser's reasons are contiguous counters: code k counts at DROP0 + k - 1. */
const DROP0 = C[`drop_${PARSE_DROPS[0]}`];
/** The UDP checksum needs checking unless the kernel says it is fine or not computed yet (a frame
 *  from this host, CHECKSUM_PARTIAL: the stack fills it in on the way out). */
const CSUM_KNOWN = K.TP_STATUS_CSUM_VALID | K.TP_STATUS_CSUMNOTREADY;
/** virtio_net_hdr.flags: the checksum is partial (csum_start, csum_offset say where). */
const VNET_NEEDS_CSUM = 1;

/** MCRELAY_TRACING=off leaves the sampling out of the per-packet path (for measuring its cost):
 *  a constant, so the JIT drops the branch. */
const TRACING = process.env.MCRELAY_TRACING !== "off";

/** Spin this long after the last packet before sleeping (MCRELAY_TUNE_SPIN_US). */
const SPIN_NS = readTune().spinUs * 1000;
const SLEEP_MS = 100;
/** Longest a busy run() goes before it writes its heartbeat and reads control messages. */
const BUSY_RETURN_NS = 50_000_000;
/** Batches (V3 blocks, V2 runs of frames) one input gives per turn before the next input's turn. */
const BATCHES_PER_TURN = 1;
/** --low-latency: how long after the last frame a busy-polling ingress keeps polling before it sleeps. */
export const BUSY_IDLE_NS = 1_000_000_000;

export class Ingress {
  private readonly c: Float64Array;
  private readonly rcShared: Float64Array;
  /** this batch's counters (worker and rules), added to shared memory when it is published */
  private readonly st: StagedCounters;
  private readonly desc: RingProducer;
  private readonly free: RingConsumer;
  private readonly stacks: SlotStacks;
  private readonly slotU32: Uint32Array;
  private readonly slotU8: Uint8Array;
  private readonly top: FlowTopWriter;
  private readonly parsed = new Uint32Array(PARSED_FIELDS);
  private readonly pool: PairSlots;
  private readonly slots: number;
  private readonly jumbo: number;
  private readonly progress: Float64Array;
  private inputs: RxRing[] = [];
  /** per input: the link way it is the end of, or null (a rules input) */
  private ends: (LinkEnd | null)[] = [];
  private match = new MatchTable([]);
  /** rules of protocols other than UDP, keyed by protocol instead of port; null: there are none */
  private opaque: MatchTable | null = null;
  /** the rules this worker matches, by number */
  private rules = new Map<number, IngressRule>();
  /** rule number -> 1 when the rule is down (matched, counted, not forwarded) */
  private readonly down: Uint8Array;
  /** rule number -> share of packets to trace; 0 costs one load and compare per packet */
  private readonly sample: Float64Array;
  private readonly slotF64: Float64Array;
  /** rule number -> traffic class, -1: from the packet's DSCP */
  private readonly cls: Int8Array;
  /** rule number -> 1: sum each payload as it is copied (a raw output needs the sum for its UDP checksum) */
  private readonly sum: Uint8Array;
  /** rule number -> 1: its outputs are shared out among the egresses (every pair takes its packets) */
  private readonly split: Uint8Array;
  /** per input: 1 when every pair reads it whole (IngressInput.shared) */
  private sharedIn = new Uint8Array(MAX_INPUTS);
  /** this pair's index, and how many there are: who keeps a shared input's frames */
  private readonly pair: number;
  private readonly pairs: number;
  /** free slots a class must leave for the classes above it */
  private readonly reserve: Int32Array;
  private poll: PollSet;
  /** the control channel alone: what a hold waits on (frames are left to gather meanwhile) */
  private readonly controlOnly: PollSet;
  private readonly moderation = new Moderation(readTune().holdUs);
  /** when the last frame was taken (ns, monotonic): a busy-polling ingress polls for BUSY_IDLE_NS after it */
  private lastFrameNs = 0;
  /** for a sampled packet's wait in the ring */
  private readonly clock = new RealtimeClock();
  private lastStatsMs = 0;
  /** this batch's time (CLOCK_MONOTONIC ms mod 2^32), in every slot's header */
  private stampMs = 0;

  constructor(private readonly seg: Segment, pair: number, private readonly controlFd: number, replacesDeadIngress = false,
    private readonly busy: BusyPoll | null = null, private readonly schedule: Schedule | null = null) {
    const l = seg.layout;
    const pl = l.pairs[pair];
    this.c = new Float64Array(seg.buf, pl.ingressCounters, INGRESS_COUNTERS.length);
    this.rcShared = new Float64Array(seg.buf, pl.ingressRules, NRF * l.maxRules);
    this.st = new StagedCounters(this.c, this.rcShared, NRF);
    this.progress = new Float64Array(seg.buf, pl.ingressProgress, PROGRESS_WORDS * MAX_INPUTS);
    this.desc = new RingProducer(seg.buf, pl.descRing, l.ringCapacity, ringHeadAddr(seg.addr, pl.descRing));
    this.free = new RingConsumer(seg.buf, pl.freeRing, l.ringCapacity);
    this.stacks = new SlotStacks(l.slots, l.jumboSlots);
    this.slotU32 = new Uint32Array(seg.buf);
    this.slotU8 = new Uint8Array(seg.buf);
    this.top = new FlowTopWriter(seg.buf, l.pairs[pair].flowTop);
    this.down = new Uint8Array(l.maxRules);
    this.sample = new Float64Array(l.maxRules);
    this.cls = new Int8Array(l.maxRules);
    this.sum = new Uint8Array(l.maxRules);
    this.split = new Uint8Array(l.maxRules);
    this.pair = pair;
    this.pairs = l.pairs.length;
    this.reserve = new Int32Array(RESERVE.map((r) => Math.floor(r * (l.slots + l.jumboSlots))));
    this.slotF64 = new Float64Array(seg.buf, 0, Math.floor(seg.buf.byteLength / 8));
    this.pool = new PairSlots(l, pair);
    this.slots = l.slots;
    this.jumbo = l.jumboSlots;
    this.poll = new PollSet([controlFd]);
    this.controlOnly = new PollSet([controlFd]);
    // Egress was drained before we started: every slot is either in the free ring or was on the
    // dead ingress's stacks. Start with all of them and drop the ring's copies.
    if (replacesDeadIngress) this.free.discardAll();
    this.c[C.freeSlots] = this.stacks.free;
    this.schedule?.publishTo(this.c, C.quiet, C.quietCpu);
  }

  /** Egress died: slots in neither ring nor on our stacks were its own (sent or lost), and are
   *  ours again; each one's packet is counted as lost to the restart, for its rule. */
  reclaim(): number {
    const inRings = new Set<number>();
    this.desc.forEachPending((v) => inRings.add(v));
    this.free.forEachPending((v) => inRings.add(v));
    const n = this.stacks.reclaim(this.slots + this.jumbo, inRings, (slot) => {
      const rule = this.slotU32[(this.pool.offset(slot) >> 2) + SH.rule];
      if (rule < this.down.length) this.rcShared[rule * NRF + RF.drop_worker_restart]++;
      this.c[C.drop_worker_restart]++;
    });
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

  /**
   * Applies a configuration between batches: the inputs (complete), rules added or changed, rules
   * removed. An input that comes without a socket keeps its ring; one with a socket replaces it.
   */
  configure(inputs: IngressInput[], links: IngressLink[], put: IngressRule[], remove: number[], fds: number[]): void {
    const keep: RxRing[] = [];
    for (const spec of inputs) {
      const old = this.inputs.find((i) => i.ifname === spec.ifname);
      if (spec.fd === undefined && old) {
        keep.push(old);
        continue;
      }
      if (spec.fd === undefined) throw new Error(`config names input ${spec.ifname} without a socket`);
      if (old) {
        old.close(true);
        this.inputs = this.inputs.filter((i) => i !== old); // closed once: not again below
      }
      const ring = openRing(spec, fds[spec.fd], this.progress);
      if (spec.resume) ring.resume(this.desc.published);
      else ring.start();
      keep.push(ring);
    }
    for (const old of this.inputs) if (!keep.includes(old)) old.close(true);
    this.inputs = keep;
    for (const no of remove) {
      this.rules.delete(no);
      this.down[no] = 0;
      this.sample[no] = 0;
      this.split[no] = 0;
    }
    for (const r of put) {
      this.rules.set(r.no, r);
      this.down[r.no] = r.down ? 1 : 0;
      this.split[r.no] = r.split ? 1 : 0;
      this.sample[r.no] = r.sample;
      this.cls[r.no] = r.cls;
      this.sum[r.no] = r.sum ? 1 : 0;
    }
    const idx = new Map(keep.map((inp, i) => [inp.ifname, i]));
    // A redundant rule's inputs match as rules of their own whose number carries the path.
    const open = [...this.rules.values()].flatMap((r) => [r, ...(r.also ?? []).map((p, i) => ({ ...r, ...p, no: r.no + ((i + 1) << PATH_SHIFT) }))])
      .filter((r) => idx.has(r.ifname)).map((r) => ({ ...r, input: idx.get(r.ifname)! }));
    this.match = new MatchTable(open.filter((r) => r.protocol === UDP));
    // Rules of other protocols, by protocol where UDP has its port.
    const opaque = open.filter((r) => r.protocol !== UDP).map((r) => ({ ...r, port: r.protocol }));
    this.opaque = opaque.length ? new MatchTable(opaque) : null;
    this.poll = new PollSet([this.controlFd, ...keep.map((i) => i.fd)]);
    const ends = new Map(links.map((l) => [l.ifname, new LinkEnd(l)]));
    this.ends = keep.map((i) => ends.get(i.ifname) ?? null);
    const shared = new Set(inputs.filter((i) => i.shared).map((i) => i.ifname));
    this.sharedIn = Uint8Array.from(keep.map((i) => (shared.has(i.ifname) ? 1 : 0)));
  }

  /**
   * Runs until a control message may be waiting; the caller reads it, then calls run() again.
   * Busy-polling (--low-latency) it returns after its turns (control messages are read then,
   * without waiting), as it never poll()s while traffic flows.
   */
  run(control: () => void): void {
    let idleSince = 0;
    const started = Bun.nanoseconds();
    for (let turn = 0; turn < 4096; turn++) {
      let n = 0;
      for (let i = 0; i < this.inputs.length; i++) n += this.drain(this.inputs[i], i);
      this.c[C.loops]++;
      const now = Bun.nanoseconds();
      this.moderation.count(n, now);
      if (this.schedule !== null) {
        // Quiet while it does not hold; egress follows the words it publishes (services/schedule.ts).
        this.schedule.tick(now, this.moderation.hold() === 0);
      }
      if (n > 0) {
        idleSince = 0;
        this.lastFrameNs = now;
        // A busy turn can take a millisecond (a full block): return on time, not only on turns, so
        // the heartbeat and control messages never wait long under load (the watchdog kills at 3 s).
        if (now - started > BUSY_RETURN_NS) break;
        continue;
      }
      if (this.busy !== null && now - this.lastFrameNs < BUSY_IDLE_NS) {
        yieldCpu(); // the pair's other worker, or anything else, may want this CPU: let it run
        continue;
      }
      if (idleSince === 0) idleSince = now;
      else if (now - idleSince > SPIN_NS) {
        this.housekeeping();
        this.c[C.sleeps]++;
        const hold = this.busy === null ? this.moderation.hold() : 0;
        this.c[C.holdUs] = hold;
        const t0 = Bun.nanoseconds();
        // Holding, frames gather in the ring and go as one batch; otherwise the next one wakes us.
        const p = hold > 0 ? this.controlOnly : this.poll;
        if (hold > 0) {
          this.c[C.holds]++;
          p.waitUs(hold);
        } else p.wait(SLEEP_MS);
        this.c[C.sleepNs] += Bun.nanoseconds() - t0;
        if (p.revents[0] !== 0) break;
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

  /** The ready batches of one input, at most BATCHES_PER_TURN of them (the inputs take turns: the
   *  copies of a redundant stream on two inputs are read together, and a loop that cannot keep up
   *  with one input still returns to write its heartbeat); returns how many frames. */
  private drain(ring: RxRing, input: number): number {
    let total = 0;
    let batches = 0;
    for (let n = ring.begin(); n >= 0; n = ++batches < BATCHES_PER_TURN ? ring.begin() : -1) {
      this.stampMs = (monotonicNs() / 1e6) >>> 0;
      for (let k = 0; k < n; k++) {
        const f = ring.next();
        const type = ring.pkttype(f);
        const end = this.ends[input];
        if (end !== null && type !== K.PACKET_OUTGOING) this.linkFrame(ring, end, f, ring.mac(f), ring.snap(f), ring.wireLen(f), ring.status(f));
        else if (type === K.PACKET_OUTGOING) {
          if ((ring.status(f) & K.TP_STATUS_COPY) !== 0) packetTakeCopy(ring.fd, this.seg.addr, 0, ring.map.addr + ring.mac(f), ring.snap(f)); // keep the queue in step
          this.st.c[C.frames]++;
          this.st.c[C.drop_outgoing]++; // our own sends, on kernels that cannot filter them in a fanout group
        } else if (type === K.PACKET_OTHERHOST) {
          this.st.c[C.frames]++;
          this.st.c[C.drop_other_host]++; // not for this host: seen only because the interface is promiscuous
        } else this.frame(ring, input, ring.mac(f), ring.snap(f), ring.wireLen(f), ring.status(f), f);
      }
      // Progress first, then the counters, then the publish: a successor that finds the publish
      // done skips this batch, one that does not reads it again (rx-ring.ts).
      ring.record(this.desc.position);
      this.st.flush();
      this.desc.publish();
      ring.release();
      total += n;
    }
    return total;
  }

  /** f: the frame's ring header (for the VLAN tag the kernel took off, when it did, and its receive time). */
  private frame(ring: RxRing, input: number, off: number, snap: number, wireLen: number, status: number, f: number): void {
    const c = this.st.c;
    const P = this.parsed;
    // A shared input's frame (every pair reads it) is counted by one pair only: see dropped() and lead.
    const shared = this.sharedIn[input] === 1;
    if (!shared) c[C.frames]++;
    if (snap < wireLen) return this.dropped(shared, C.drop_oversize, this.pair === 0); // larger than a ring frame: never one we could relay whole
    const r = parseFrame(ring.u8, off, snap, (status & K.TP_STATUS_VLAN_VALID) !== 0 ? ring.vlan(f) & 0xffff : -1, P);
    let rule: number;
    if (r === 0) {
      // IPv6 compares the addresses' bytes in the ring (their keys are hashes).
      rule = P[F.family] === 4 ? this.match.lookup(input, P[F.vlan], P[F.dst], P[F.dport], P[F.src])
        : this.match.lookup6(input, P[F.vlan], P[F.dst], P[F.dport], P[F.src], ring.u8, P[F.addrOff]);
      if (rule < 0) return this.dropped(shared, rule === NO_VLAN ? C.drop_vlan : C.drop_no_rule, shared && this.keeps(P));
    } else if (r === NOT_UDP_CODE && this.opaque !== null) {
      // Another protocol, which a rule may relay whole: its payload is in P as a datagram's would be.
      rule = P[F.family] === 4 ? this.opaque.lookup(input, P[F.vlan], P[F.dst], P[F.proto], P[F.src])
        : this.opaque.lookup6(input, P[F.vlan], P[F.dst], P[F.proto], P[F.src], ring.u8, P[F.addrOff]);
      if (rule < 0) return this.dropped(shared, DROP0 + r - 1, shared && this.keeps(P));
    } else return this.dropped(shared, DROP0 + r - 1, this.pair === 0);
    const path = rule >>> PATH_SHIFT;
    rule &= RULE_MASK;
    // lead: this pair counts the packet as the rule's and the worker's (rx, frames, matched) and may
    // trace it. On a shared input a split rule's packet is taken by every pair (each egress sends
    // its share of the outputs) and counted by pair 0; another rule's is kept by one pair alone.
    let lead = true;
    if (shared) {
      if (this.split[rule] === 1) lead = this.pair === 0;
      else if (!this.keeps(P)) return;
      if (lead) c[C.frames]++;
    }
    const rc = this.st.rc;
    const rb = this.st.row(rule);
    if (this.down[rule] === 1) {
      if (lead) {
        c[C.drop_rule_down]++;
        rc[rb + RF.drop_rule_down]++;
      }
      return;
    }
    const len = P[F.payloadLen];
    const slot = this.takeSlot(len, rule, rb, P[F.tos]);
    if (slot < 0) return;
    const so = this.pool.offset(slot);
    const h = so >> 2;
    const dst = this.seg.addr + so + SLOT_HEADER_BYTES;
    const src = ring.map.addr + P[F.payloadOff];
    // A zero UDP checksum means "none" (IPv4; the parser refused it for IPv6); one the kernel
    // vouches for, or that this host has yet to compute, is not checked.
    const check = P[F.udpSum] !== 0 && (status & CSUM_KNOWN) === 0;
    if (check || this.sum[rule] === 1) {
      const sum = copySum(dst, src, len);
      if (check && lead) c[C.checksummed]++;
      if (check && !udpChecksumOk(P, sum)) {
        this.stacks.give(slot);
        if (lead) {
          c[C.drop_bad_udp_checksum]++;
          rc[rb + RF.drop_bad_udp_checksum]++;
        }
        return;
      }
      this.slotU32[h + SH.csum] = sum;
    } else {
      copy(dst, src, len);
      this.slotU32[h + SH.csum] = NO_SUM;
    }
    this.slotU32[h + SH.rule] = rule;
    this.slotU32[h + SH.len] = len;
    this.slotU32[h + SH.tos] = P[F.tos];
    // Which of a redundant rule's inputs it came in on (SH.path's top bits; a sampled packet's ring
    // wait fills the rest below), and the batch's time, which the merge's gaps wait by.
    this.slotU32[h + SH.path] = (path << SLOT_PATH_SHIFT) >>> 0;
    this.slotU32[h + SH.stampMs] = this.stampMs;
    // The kernel stamped the frame when it took it: the latency histogram's start, at no cost here.
    const sec = ring.sec(f);
    const nsec = ring.nsec(f);
    this.slotU32[h + SH.rxSec] = sec;
    this.slotU32[h + SH.rxNsec] = nsec;
    const ratio = TRACING && lead ? this.sample[rule] : 0;
    if (TRACING && ratio !== 0 && Math.random() < ratio) {
      this.slotU32[h + SH.sampled] = 1;
      this.slotU32[h + SH.family] = P[F.family]; // an IPv6 packet's addresses do not fit: its span names the rule's
      this.slotU32[h + SH.src] = P[F.src];
      this.slotU32[h + SH.dst] = P[F.dst];
      this.slotU32[h + SH.ports] = ((P[F.sport] << 16) | P[F.dport]) >>> 0;
      this.slotF64[(so >> 3) + SH.rxNsF64] = monotonicNs();
      this.clock.read();
      this.slotU32[h + SH.ringWaitNs] = ((path << SLOT_PATH_SHIFT) | Math.min(RING_WAIT_MASK, Math.max(0, this.clock.since(sec, nsec)))) >>> 0; // the path stays in the top bits
      c[C.sampled]++;
    } else this.slotU32[h + SH.sampled] = 0;
    this.desc.push(slot);
    if (!lead) return;
    c[C.matched]++;
    c[C.bytes] += len;
    rc[rb + RF.rxPackets]++;
    rc[rb + RF.rxBytes] += len;
  }

  /** A frame dropped before it is a rule's: counted under `counter`, on a shared input only by the
   *  pair that keeps it (`mine`), so the pairs together count it once. */
  private dropped(shared: boolean, counter: number, mine: boolean): void {
    const c = this.st.c;
    if (shared && !mine) return;
    if (shared) c[C.frames]++;
    c[counter]++;
  }

  /** Whether this pair keeps a shared input's frame of a rule that is not split: by a hash of its
   *  flow (addresses and ports), as PACKET_FANOUT_HASH spreads the frames of an input that is not shared. */
  private keeps(P: Uint32Array): boolean {
    let h = Math.imul(P[F.src] ^ 0x9e3779b9, 0x85ebca6b) ^ P[F.dst];
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ ((P[F.sport] << 16) | P[F.dport]);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    return (h >>> 0) % this.pairs === this.pair;
  }

  /** A slot for len bytes of the rule's (its drops counted when there is none, or no room in
   *  the descriptor ring); -1 then. */
  private takeSlot(len: number, rule: number, rb: number, tos: number): number {
    const c = this.st.c;
    const rc = this.st.rc;
    let slot: number;
    if (len <= STD_PAYLOAD_MAX) {
      slot = this.stacks.takeStd();
      if (slot < 0 && this.stacks.refill(this.free) > 0) slot = this.stacks.takeStd();
    } else if (len <= JUMBO_PAYLOAD_MAX && this.jumbo > 0) {
      slot = this.stacks.takeJumbo();
      if (slot < 0 && this.stacks.refill(this.free) > 0) slot = this.stacks.takeJumbo();
    } else {
      c[C.drop_oversize]++;
      rc[rb + RF.drop_oversize]++;
      return -1;
    }
    // Under pressure a lower class leaves the last slots to the classes above it. Best effort's
    // reserve is the largest, so above it no class is held back and nothing more is computed.
    if (slot >= 0 && this.stacks.free < this.reserve[BEST_EFFORT]) {
      const k = this.cls[rule] >= 0 ? this.cls[rule] : classOf(tos >> 2);
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
      rc[rb + RF.drop_pool_exhausted]++;
      return -1;
    }
    if (this.desc.space() === 0) {
      this.stacks.give(slot);
      c[C.drop_ring_full]++;
      rc[rb + RF.drop_ring_full]++;
      return -1;
    }
    return slot;
  }

  /**
   * A frame on a link's end: whole, after its virtio_net_hdr (the ring has it just before the
   * frame), to the channel its flow decides. A VLAN tag the kernel took off goes back in, and a
   * partial checksum's start moves with it.
   */
  private linkFrame(ring: RxRing, end: LinkEnd, f: number, off: number, snap: number, wireLen: number, status: number): void {
    const c = this.st.c;
    c[C.frames]++;
    // Cut to the ring's frame (a V2 ring: a GSO super-frame): the kernel queued the whole on the
    // socket (TP_STATUS_COPY), unless its queue was full. Each queued one is taken, even to drop it.
    const whole = snap < wireLen;
    if (whole && (status & K.TP_STATUS_COPY) === 0) {
      c[C.drop_oversize]++; // bigger than a ring frame, and no copy queued (or a V3 block's clamp)
      return;
    }
    const src = ring.map.addr + off;
    const no = end.classify(ring.u8, off, snap);
    this.top.count(no, end.family, end.protocol, ring.u8, end.src, end.dst, end.sport, end.dport, wireLen);
    const rc = this.st.rc;
    const rb = this.st.row(no);
    if (end.down) {
      if (whole) packetTakeCopy(ring.fd, this.seg.addr, 0, src, snap);
      c[C.drop_rule_down]++;
      rc[rb + RF.drop_rule_down]++;
      return;
    }
    const tag = (status & K.TP_STATUS_VLAN_VALID) !== 0 ? 4 : 0;
    const len = VNET_HDR_BYTES + tag + wireLen;
    const slot = this.takeSlot(len, no, rb, end.tos);
    if (slot < 0) {
      if (whole) packetTakeCopy(ring.fd, this.seg.addr, 0, src, snap);
      return;
    }
    const so = this.pool.offset(slot);
    const h = so >> 2;
    const at = so + SLOT_HEADER_BYTES;
    const dst = this.seg.addr + at;
    if (whole) {
      // One system call per super-frame (tens of KiB), not per frame of the wire.
      const got = packetTakeCopy(ring.fd, dst, VNET_HDR_BYTES + wireLen, src, snap);
      if (got !== VNET_HDR_BYTES + wireLen) {
        this.stacks.give(slot);
        c[C.drop_oversize]++; // its copy was not there (taken by a predecessor, or another's)
        rc[rb + RF.drop_oversize]++;
        return;
      }
      if (tag !== 0) this.slotU8.copyWithin(at + VNET_HDR_BYTES + 16, at + VNET_HDR_BYTES + 12, at + VNET_HDR_BYTES + wireLen);
    } else {
      // The ring has the vnet header just before the frame: one copy for both (up to the MAC
      // addresses when a tag goes in after them).
      copy(dst, src - VNET_HDR_BYTES, VNET_HDR_BYTES + (tag === 0 ? snap : 12));
      if (tag !== 0) copy(dst + VNET_HDR_BYTES + 16, src + 12, snap - 12);
    }
    if (tag !== 0) {
      const u8 = this.slotU8;
      const v = ring.vlan(f);
      const t = at + VNET_HDR_BYTES + 12;
      u8[t] = v >>> 24;
      u8[t + 1] = (v >>> 16) & 0xff;
      u8[t + 2] = (v >>> 8) & 0xff;
      u8[t + 3] = v & 0xff;
      if ((u8[at] & VNET_NEEDS_CSUM) !== 0) {
        // csum_start (le16 at 6) and hdr_len (le16 at 2) count from the MAC header
        const cs = (u8[at + 6] | (u8[at + 7] << 8)) + 4;
        u8[at + 6] = cs & 0xff;
        u8[at + 7] = cs >> 8;
      }
      const hl = u8[at + 2] | (u8[at + 3] << 8);
      if (hl !== 0) {
        u8[at + 2] = (hl + 4) & 0xff;
        u8[at + 3] = (hl + 4) >> 8;
      }
    }
    this.slotU32[h + SH.csum] = NO_SUM;
    this.slotU32[h + SH.rule] = no;
    this.slotU32[h + SH.len] = len;
    this.slotU32[h + SH.tos] = end.tos;
    this.slotU32[h + SH.rxSec] = ring.sec(f);
    this.slotU32[h + SH.rxNsec] = ring.nsec(f);
    this.slotU32[h + SH.sampled] = 0;
    this.desc.push(slot);
    c[C.matched]++;
    c[C.bytes] += len;
    rc[rb + RF.rxPackets]++;
    rc[rb + RF.rxBytes] += len;
  }

  /** Stops reading: the sockets stay with the supervisor, which closes them. */
  close(): void {
    this.desc.publish();
    for (const inp of this.inputs) inp.close(true);
    this.inputs = [];
  }

  summary() {
    return snapshot(this.c, INGRESS_COUNTERS);
  }
}
