// A single-producer/single-consumer ring of u32 in shared memory (Snabb's link, across processes).
// Indices run freely mod 2^32; entries are written plainly and published once per batch with
// one atomic store, so the other side pays one cache-line transfer per batch, not per entry.
import { RING_HEADER_BYTES } from "./layout.ts";
import { futexWait, futexWake } from "../c/sys.ts";

const HEAD = 0; // int32 index: line 0
const TAIL = 16; // line 1
const SLEEPING = 17; // line 1: the consumer is (about to be) asleep on HEAD

function views(buf: ArrayBuffer, off: number, capacity: number) {
  if (capacity & (capacity - 1)) throw new Error(`ring capacity ${capacity} is not a power of two`);
  return { ctl: new Int32Array(buf, off, RING_HEADER_BYTES / 4), entries: new Uint32Array(buf, off + RING_HEADER_BYTES, capacity) };
}

export class RingProducer {
  private readonly ctl: Int32Array;
  private readonly entries: Uint32Array;
  private readonly mask: number;
  private head: number;
  private cachedTail: number;

  /** base: the segment's address, for waking a sleeping consumer (0: never wake). */
  constructor(buf: ArrayBuffer, off: number, readonly capacity: number, private readonly headAddr = 0) {
    ({ ctl: this.ctl, entries: this.entries } = views(buf, off, capacity));
    this.mask = capacity - 1;
    this.head = Atomics.load(this.ctl, HEAD) >>> 0;
    this.cachedTail = Atomics.load(this.ctl, TAIL) >>> 0;
  }

  /** Where the next entry goes (free-running): after publish(), the shared head equals it. */
  get position(): number {
    return this.head;
  }

  /** The head a producer last published (for a successor deciding what its predecessor sent). */
  get published(): number {
    return Atomics.load(this.ctl, HEAD) >>> 0;
  }

  /** Free entries; re-reads the consumer's tail only when the cached view says full. */
  space(): number {
    let s = this.capacity - ((this.head - this.cachedTail) >>> 0);
    if (s === 0) {
      this.cachedTail = Atomics.load(this.ctl, TAIL) >>> 0;
      s = this.capacity - ((this.head - this.cachedTail) >>> 0);
    }
    return s;
  }

  /** Writes v (unpublished). False when full. */
  push(v: number): boolean {
    if (this.space() === 0) return false;
    this.entries[this.head & this.mask] = v;
    this.head = (this.head + 1) >>> 0;
    return true;
  }

  /** Makes everything pushed so far visible, and wakes the consumer if it sleeps. */
  publish(): void {
    Atomics.store(this.ctl, HEAD, this.head | 0);
    if (this.headAddr !== 0 && Atomics.load(this.ctl, SLEEPING) !== 0) futexWake(this.headAddr);
  }

  /** Entries pushed but not yet consumed (as far as the producer knows). */
  pending(): number {
    this.cachedTail = Atomics.load(this.ctl, TAIL) >>> 0;
    return (this.head - this.cachedTail) >>> 0;
  }

  /** Calls fn for every entry not yet consumed. Only meaningful while the consumer is stopped. */
  forEachPending(fn: (v: number) => void): void {
    for (let i = Atomics.load(this.ctl, TAIL) >>> 0; i !== this.head; i = (i + 1) >>> 0) fn(this.entries[i & this.mask]);
  }
}

export class RingConsumer {
  private readonly ctl: Int32Array;
  private readonly entries: Uint32Array;
  private readonly mask: number;
  private tail: number;
  private cachedHead: number;

  constructor(buf: ArrayBuffer, off: number, readonly capacity: number, private readonly headAddr = 0) {
    ({ ctl: this.ctl, entries: this.entries } = views(buf, off, capacity));
    this.mask = capacity - 1;
    this.tail = Atomics.load(this.ctl, TAIL) >>> 0;
    this.cachedHead = Atomics.load(this.ctl, HEAD) >>> 0;
  }

  /** Entries ready to take; re-reads the producer's head only when the cached view is empty. */
  available(): number {
    let n = (this.cachedHead - this.tail) >>> 0;
    if (n === 0) {
      this.cachedHead = Atomics.load(this.ctl, HEAD) >>> 0;
      n = (this.cachedHead - this.tail) >>> 0;
    }
    return n;
  }

  /** Where the next entry to take is (free-running). */
  get position(): number {
    return this.tail;
  }

  /** The producer's published head right now. */
  get published(): number {
    return Atomics.load(this.ctl, HEAD) >>> 0;
  }

  /** Exact count right now (always re-reads the head): for gauges, not for the hot path. */
  pending(): number {
    this.cachedHead = Atomics.load(this.ctl, HEAD) >>> 0;
    return (this.cachedHead - this.tail) >>> 0;
  }

  /** Calls fn for every entry published and not yet taken. Only meaningful while the producer is stopped. */
  forEachPending(fn: (v: number) => void): void {
    const head = Atomics.load(this.ctl, HEAD) >>> 0;
    for (let i = this.tail; i !== head; i = (i + 1) >>> 0) fn(this.entries[i & this.mask]);
  }

  /** Drops every published entry (their slots are accounted for elsewhere). */
  discardAll(): number {
    const n = this.pending();
    this.tail = this.cachedHead;
    this.release();
    return n;
  }

  /** Next entry; call only after available() said there is one. */
  take(): number {
    const v = this.entries[this.tail & this.mask];
    this.tail = (this.tail + 1) >>> 0;
    return v;
  }

  /** Hands the taken entries' space back to the producer. */
  release(): void {
    Atomics.store(this.ctl, TAIL, this.tail | 0);
  }

  /**
   * Sleeps until the producer publishes or timeoutUs passes. The flag is set before the head is
   * re-read and the producer reads the flag after storing head (both seq-cst), so no wake is lost.
   */
  sleep(timeoutUs: number): void {
    Atomics.store(this.ctl, SLEEPING, 1);
    const head = Atomics.load(this.ctl, HEAD) >>> 0;
    if (head === this.tail && this.headAddr !== 0) futexWait(this.headAddr, head, timeoutUs);
    Atomics.store(this.ctl, SLEEPING, 0);
  }
}

/** Address of the ring's head word, for futex wake-ups. */
export function ringHeadAddr(segmentAddr: number, off: number): number {
  return segmentAddr + off + HEAD * 4;
}

/** Empties a ring whose producer and consumer are both gone: its entries are lost, never resent. */
export function resetRing(buf: ArrayBuffer, off: number): void {
  const ctl = new Int32Array(buf, off, RING_HEADER_BYTES / 4);
  Atomics.store(ctl, TAIL, Atomics.load(ctl, HEAD));
  Atomics.store(ctl, SLEEPING, 0);
}
