// The one definition of the shared-memory segment. Every process (and any tool) computes
// the same offsets from the parameters stored in the header. The C core never parses the
// segment: it is handed raw addresses, so no second copy of this layout exists.
import { DROP_REASONS } from "./counters.ts";

export const SHM_MAGIC = 0x4c52434d; // "MCRL" in little-endian bytes
export const LAYOUT_VERSION = 1;
export const LINE = 64;
export const HEADER_BYTES = 4096;

export const STD_SLOT_BYTES = 2048;
export const JUMBO_SLOT_BYTES = 10240;
/**
 * Slot header (u32 words): rule number, payload length, sampled flag, outputs; then for sampled
 * packets only: source, destination, ports (src << 16 | dst); the input's TOS byte (word 7,
 * always); and at byte 32 the receive time
 * (f64 ns, CLOCK_MONOTONIC). The payload follows at SLOT_HEADER_BYTES.
 */
export const SLOT_HEADER_BYTES = 64;
export const SH = { rule: 0, len: 1, sampled: 2, outputs: 3, src: 4, dst: 5, ports: 6, tos: 7, rxNsF64: 4 } as const;

/** Trace ring per pair: sampled packets, written by egress, read by anyone (lossy, seq-checked). */
export const TRACE_RECORDS = 4096;
export const TRACE_RECORD_BYTES = 48;
export const STD_PAYLOAD_MAX = STD_SLOT_BYTES - SLOT_HEADER_BYTES;
export const JUMBO_PAYLOAD_MAX = JUMBO_SLOT_BYTES - SLOT_HEADER_BYTES;

/** Ring header: producer's head on line 0, consumer's tail and sleep flag on line 1. */
export const RING_HEADER_BYTES = 2 * LINE;

/** Counter fields per rule, kept per worker (one writer each). */
export const INGRESS_RULE_FIELDS = ["rxPackets", "rxBytes", "poolExhausted", "ringFull", "oversize", "down"] as const;
export const EGRESS_RULE_FIELDS = ["txPackets", "txBytes", "sendErrors", "impaired", "duplicated"] as const;

export const INGRESS_COUNTERS = [
  "heartbeatMs", "loops", "sleeps", "sleepNs", "frames", "matched", "bytes", "sampled",
  "kernelPackets", "kernelDrops", "kernelFreezes", "poolExhausted", "ringFull", "freeSlots",
  ...DROP_REASONS.map((r) => `drop_${r}` as const),
] as const;
export const EGRESS_COUNTERS = [
  "heartbeatMs", "loops", "sleeps", "sleepNs", "descriptors", "sends", "completions", "txBytes",
  "sendErrors", "unknownRule", "inflight", "traced",
] as const;

export interface LayoutParams {
  workers: number;
  maxRules: number;
  slots: number;
  jumboSlots: number;
}

export interface PairLayout {
  descRing: number;
  freeRing: number;
  ingressCounters: number;
  egressCounters: number;
  ingressRules: number;
  egressRules: number;
  traceRing: number;
  pool: number;
  jumboPool: number;
}

export interface Layout extends LayoutParams {
  ringCapacity: number;
  pairs: PairLayout[];
  size: number;
}

const align = (v: number, a: number) => Math.ceil(v / a) * a;

export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export function computeLayout(p: LayoutParams): Layout {
  // A ring that can hold every slot of its pair: the pool, not the ring, is what runs out.
  const ringCapacity = nextPow2(p.slots + p.jumboSlots);
  const ringBytes = RING_HEADER_BYTES + 4 * ringCapacity;
  let off = HEADER_BYTES;
  const take = (bytes: number, a = LINE) => {
    off = align(off, a);
    const at = off;
    off += bytes;
    return at;
  };
  const pairs: PairLayout[] = [];
  for (let i = 0; i < p.workers; i++) {
    pairs.push({
      descRing: take(ringBytes),
      freeRing: take(ringBytes),
      ingressCounters: take(8 * INGRESS_COUNTERS.length),
      egressCounters: take(8 * EGRESS_COUNTERS.length),
      ingressRules: take(8 * INGRESS_RULE_FIELDS.length * p.maxRules),
      egressRules: take(8 * EGRESS_RULE_FIELDS.length * p.maxRules),
      traceRing: take(LINE + TRACE_RECORD_BYTES * TRACE_RECORDS),
      pool: take(STD_SLOT_BYTES * p.slots, 4096),
      jumboPool: take(JUMBO_SLOT_BYTES * p.jumboSlots, 4096),
    });
  }
  return { ...p, ringCapacity, pairs, size: align(off, 4096) };
}

/** Where a pair's slots are: standard slots first, then jumbo slots. Workers keep one per pair. */
export class PairSlots {
  private readonly pool: number;
  private readonly jumboPool: number;
  private readonly slots: number;

  constructor(l: Layout, pair: number) {
    this.pool = l.pairs[pair].pool;
    this.jumboPool = l.pairs[pair].jumboPool;
    this.slots = l.slots;
  }

  /** Byte offset of slot idx in the segment. */
  offset(idx: number): number {
    return idx < this.slots ? this.pool + idx * STD_SLOT_BYTES : this.jumboPool + (idx - this.slots) * JUMBO_SLOT_BYTES;
  }
}

export function slotOffset(l: Layout, pair: number, idx: number): number {
  return new PairSlots(l, pair).offset(idx);
}

// Header words (u32 index). The parameters are enough to recompute everything else.
const H = { magic: 0, version: 1, workers: 2, maxRules: 3, slots: 4, jumboSlots: 5, size: 6, supervisorPid: 7 } as const;

export function writeHeader(buf: ArrayBuffer, l: Layout, supervisorPid: number): void {
  const h = new Uint32Array(buf, 0, 16);
  h[H.version] = LAYOUT_VERSION;
  h[H.workers] = l.workers;
  h[H.maxRules] = l.maxRules;
  h[H.slots] = l.slots;
  h[H.jumboSlots] = l.jumboSlots;
  h[H.size] = l.size;
  h[H.supervisorPid] = supervisorPid;
  // Magic last: a reader that sees it sees the rest.
  Atomics.store(h, H.magic, SHM_MAGIC);
}

export function readHeader(buf: ArrayBuffer): Layout & { supervisorPid: number } {
  const h = new Uint32Array(buf, 0, 16);
  if (Atomics.load(h, H.magic) !== SHM_MAGIC) throw new Error("not an mcrelay segment (bad magic)");
  if (h[H.version] !== LAYOUT_VERSION) throw new Error(`segment layout version ${h[H.version]}, expected ${LAYOUT_VERSION}`);
  const l = computeLayout({ workers: h[H.workers], maxRules: h[H.maxRules], slots: h[H.slots], jumboSlots: h[H.jumboSlots] });
  if (l.size !== h[H.size]) throw new Error(`segment size ${h[H.size]} does not match its layout (${l.size})`);
  return { ...l, supervisorPid: h[H.supervisorPid] };
}
