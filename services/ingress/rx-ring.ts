// An input's AF_PACKET receive ring, as ingress walks it: batches of frames (a TPACKET_V3 block,
// or up to BATCH consecutive TPACKET_V2 frames), each batch handed back to the kernel only after
// what ingress made of it was published to egress. A progress record in shared memory says
// which batch went out last, so an ingress that replaces a dead one (the supervisor keeps the
// socket, and so the ring, alive) continues exactly after it: no frame lost, none sent twice.
import { packetMap, unmap } from "../../c/packet.ts";
import { K } from "../../c/kernel.ts";
import { closeFd } from "../../c/inet.ts";
import type { Mapping } from "../../c/sys.ts";
import { PROGRESS, PROGRESS_WORDS } from "../../shm/layout.ts";
import type { IngressInput } from "../protocol/worker.ts";

/** V2: frames per batch (one publish each), so egress starts early on a long run. */
const V2_BATCH = 256;

export abstract class RxRing {
  readonly ifname: string;
  readonly fd: number;
  readonly map: Mapping;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  protected readonly u32: Uint32Array;
  protected readonly size: number;
  protected readonly blockSize: number;
  protected readonly blockCount: number;
  /** this input's progress record: prog[base + PROGRESS.x] */
  private readonly base: number;

  constructor(spec: IngressInput, fd: number, protected readonly prog: Float64Array) {
    const g = spec.geometry;
    this.ifname = spec.ifname;
    this.fd = fd;
    this.blockSize = g.blockSize;
    this.blockCount = g.blockCount;
    this.size = g.blockSize * g.blockCount;
    this.map = packetMap(fd, this.size);
    this.u8 = new Uint8Array(this.map.buf);
    this.i32 = new Int32Array(this.map.buf);
    this.u32 = new Uint32Array(this.map.buf);
    this.base = spec.slot * PROGRESS_WORDS;
  }

  /** Frames in the next ready batch, or -1 when none is ready. Then: next() that many times,
   *  record(), publish to egress, release(). */
  abstract begin(): number;
  /** Offset of the next frame's header in the batch. */
  abstract next(): number;
  /** Hands the batch back to the kernel: only after it was published. */
  abstract release(): void;

  // A frame's fields, at the offset next() gave.
  abstract status(f: number): number;
  abstract snap(f: number): number;
  abstract wireLen(f: number): number;
  /** Offset of the frame's Ethernet header in the ring. */
  abstract mac(f: number): number;
  abstract pkttype(f: number): number;
  /** The VLAN tag the kernel took off the frame (when status has TP_STATUS_VLAN_VALID): TPID << 16 | TCI. */
  abstract vlan(f: number): number;
  /** The kernel's receive time of the frame, CLOCK_REALTIME: seconds, nanoseconds. */
  abstract sec(f: number): number;
  abstract nsec(f: number): number;

  /** Before publishing a batch: this batch, and the descriptor ring's head once it is out. */
  record(head: number): void {
    this.prog[this.base + PROGRESS.head] = head;
    this.recordBatch(this.prog, this.base);
  }

  protected abstract recordBatch(prog: Float64Array, base: number): void;

  /**
   * Takes up a ring its predecessor read: `published` is the descriptor ring's head now. If it
   * equals the recorded head, the recorded batch went out (hand it back if that did not happen
   * yet); otherwise it is read again.
   */
  resume(published: number): void {
    const done = this.prog[this.base + PROGRESS.head] === published;
    this.resumeAt(this.prog, this.base, done);
  }

  protected abstract resumeAt(prog: Float64Array, base: number, batchWentOut: boolean): void;

  /** A fresh socket: nothing read yet. */
  start(): void {
    for (let i = 0; i < PROGRESS_WORDS; i++) this.prog[this.base + i] = 0;
    this.prog[this.base + PROGRESS.head] = -1;
  }

  close(closeSocket: boolean): void {
    unmap(this.map, this.size);
    if (closeSocket) closeFd(this.fd);
  }
}

/**
 * TPACKET_V3: blocks of frames, handed over when full or after the retire timeout. The kernel
 * fills blocks in ring order from block 0 and numbers them from 1, so block sequence number s is
 * at index (s - 1) mod blocks: a successor finds its place from the number alone.
 */
export class BlockRing extends RxRing {
  private cur = 0;
  private frame = 0;
  private first = true;

  private block(i: number): number {
    return i * this.blockSize;
  }

  private seq(i: number): number {
    const o = (this.block(i) + K.BLOCK_SEQ) >> 2;
    return this.u32[o + 1] * 4294967296 + this.u32[o];
  }

  private ready(i: number): boolean {
    return (Atomics.load(this.i32, (this.block(i) + K.BLOCK_STATUS) >> 2) & K.TP_STATUS_USER) !== 0;
  }

  begin(): number {
    if (!this.ready(this.cur)) return -1;
    const blk = this.block(this.cur);
    this.frame = blk + this.i32[(blk + K.BLOCK_FIRST_PKT) >> 2];
    this.first = true;
    return this.i32[(blk + K.BLOCK_NUM_PKTS) >> 2]; // a retired block may be empty: still handed back
  }

  next(): number {
    if (!this.first) this.frame += this.i32[(this.frame + K.TP3_NEXT_OFFSET) >> 2];
    this.first = false;
    return this.frame;
  }

  release(): void {
    Atomics.store(this.i32, (this.block(this.cur) + K.BLOCK_STATUS) >> 2, K.TP_STATUS_KERNEL);
    this.cur = this.cur + 1 === this.blockCount ? 0 : this.cur + 1;
  }

  status(f: number): number {
    return this.i32[(f + K.TP3_STATUS) >> 2];
  }
  snap(f: number): number {
    return this.i32[(f + K.TP3_SNAPLEN) >> 2];
  }
  wireLen(f: number): number {
    return this.i32[(f + K.TP3_LEN) >> 2];
  }
  mac(f: number): number {
    return f + (this.u8[f + K.TP3_MAC] | (this.u8[f + K.TP3_MAC + 1] << 8));
  }
  pkttype(f: number): number {
    return this.u8[f + K.TP3_PKTTYPE];
  }
  vlan(f: number): number {
    const tci = this.u8[f + K.TP3_VLAN_TCI] | (this.u8[f + K.TP3_VLAN_TCI + 1] << 8);
    const tpid = (this.i32[(f + K.TP3_STATUS) >> 2] & K.TP_STATUS_VLAN_TPID_VALID) !== 0
      ? this.u8[f + K.TP3_VLAN_TPID] | (this.u8[f + K.TP3_VLAN_TPID + 1] << 8) : 0x8100;
    return ((tpid << 16) | tci) >>> 0;
  }

  sec(f: number): number {
    return this.u32[(f + K.TP3_SEC) >> 2];
  }
  nsec(f: number): number {
    return this.u32[(f + K.TP3_NSEC) >> 2];
  }

  protected recordBatch(prog: Float64Array, base: number): void {
    prog[base + PROGRESS.seq] = this.seq(this.cur);
  }

  protected resumeAt(prog: Float64Array, base: number, wentOut: boolean): void {
    const last = prog[base + PROGRESS.seq];
    if (last === 0) return; // the predecessor published nothing: start at block 0 with the kernel
    this.cur = (last - 1) % this.blockCount;
    if (!wentOut) return; // read that block again
    // It went out; hand it back unless that was done (then the kernel may have refilled it: a new number).
    if (this.ready(this.cur) && this.seq(this.cur) === last) this.release();
    else this.cur = this.cur + 1 === this.blockCount ? 0 : this.cur + 1;
  }
}

/**
 * TPACKET_V2: fixed frames, each with its own status word and handed over at once. Frames are
 * handed back one by one after their batch was published, and the record's `start` follows, so
 * a successor hands back exactly those still to be (a frame the kernel refilled meanwhile is
 * outside [start, end)).
 */
export class FrameRing extends RxRing {
  private readonly frameSize: number;
  private readonly perBlock: number;
  private readonly count: number;
  /** the batch being handled is [start, cur); pos: the next frame next() gives */
  private cur = 0;
  private start_ = 0;
  private pos = 0;
  private readonly startWord: number;

  constructor(spec: IngressInput, fd: number, prog: Float64Array) {
    super(spec, fd, prog);
    this.frameSize = spec.geometry.frameSize;
    this.perBlock = Math.floor(this.blockSize / this.frameSize);
    this.count = this.perBlock * this.blockCount;
    this.startWord = spec.slot * PROGRESS_WORDS + PROGRESS.start;
  }

  private at(i: number): number {
    const b = Math.floor(i / this.perBlock);
    return b * this.blockSize + (i - b * this.perBlock) * this.frameSize;
  }

  private ready(i: number): boolean {
    return (Atomics.load(this.i32, (this.at(i) + K.TP2_STATUS) >> 2) & K.TP_STATUS_USER) !== 0;
  }

  begin(): number {
    this.start_ = this.cur;
    this.pos = this.cur;
    let n = 0;
    for (let i = this.cur; n < V2_BATCH && this.ready(i); i = i + 1 === this.count ? 0 : i + 1) n++;
    if (n === 0) return -1;
    this.cur = (this.cur + n) % this.count;
    return n;
  }

  next(): number {
    const f = this.at(this.pos);
    this.pos = this.pos + 1 === this.count ? 0 : this.pos + 1;
    return f;
  }

  release(): void {
    for (let i = this.start_; i !== this.cur; ) {
      Atomics.store(this.i32, (this.at(i) + K.TP2_STATUS) >> 2, K.TP_STATUS_KERNEL);
      i = i + 1 === this.count ? 0 : i + 1;
      this.prog[this.startWord] = i;
    }
    this.start_ = this.cur;
  }

  status(f: number): number {
    return this.i32[(f + K.TP2_STATUS) >> 2];
  }
  snap(f: number): number {
    return this.i32[(f + K.TP2_SNAPLEN) >> 2];
  }
  wireLen(f: number): number {
    return this.i32[(f + K.TP2_LEN) >> 2];
  }
  mac(f: number): number {
    return f + (this.u8[f + K.TP2_MAC] | (this.u8[f + K.TP2_MAC + 1] << 8));
  }
  pkttype(f: number): number {
    return this.u8[f + K.TP2_PKTTYPE];
  }
  vlan(f: number): number {
    const tci = this.u8[f + K.TP2_VLAN_TCI] | (this.u8[f + K.TP2_VLAN_TCI + 1] << 8);
    const tpid = (this.i32[(f + K.TP2_STATUS) >> 2] & K.TP_STATUS_VLAN_TPID_VALID) !== 0
      ? this.u8[f + K.TP2_VLAN_TPID] | (this.u8[f + K.TP2_VLAN_TPID + 1] << 8) : 0x8100;
    return ((tpid << 16) | tci) >>> 0;
  }
  sec(f: number): number {
    return this.u32[(f + K.TP2_SEC) >> 2];
  }
  nsec(f: number): number {
    return this.u32[(f + K.TP2_NSEC) >> 2];
  }

  protected recordBatch(prog: Float64Array, base: number): void {
    prog[base + PROGRESS.start] = this.start_;
    prog[base + PROGRESS.end] = this.cur;
  }

  protected resumeAt(prog: Float64Array, base: number, wentOut: boolean): void {
    this.start_ = prog[base + PROGRESS.start];
    this.cur = prog[base + PROGRESS.end];
    if (wentOut) this.release(); // what is left of the batch to hand back
    else this.cur = this.start_; // read the batch again
  }
}

export function openRing(spec: IngressInput, fd: number, prog: Float64Array): RxRing {
  return spec.geometry.version === 2 ? new FrameRing(spec, fd, prog) : new BlockRing(spec, fd, prog);
}
