// Test payload shared by lab/gen.ts and lab/sink.ts:
//   0..3 "MCRP" | 4..7 flow (u32 BE) | 8..15 seq (u64 BE, < 2^53) | 16..23 send time (CLOCK_MONOTONIC ns, u64 BE)
//   24..end: byte at offset i is (seq*131 + flow*17 + i) & 0xff
// The pattern makes any truncation, reordering of bytes or stale buffer reuse visible.

export const HEADER_SIZE = 24;
/** An RTP header (RFC 3550) before the payload (gen --rtp, sink --rtp): V=2, PT 96, the sequence
 *  number's low 16 bits, timestamp seq × 90 (90 kHz, one packet a millisecond), SSRC. */
export const RTP_HEADER_SIZE = 12;
export const RTP_SSRC = 0x4d435250; // "MCRP"

export function writeRtp(buf: Uint8Array, seq: number, ssrc = RTP_SSRC): void {
  buf[0] = 0x80;
  buf[1] = 96;
  buf[2] = (seq >>> 8) & 0xff;
  buf[3] = seq & 0xff;
  writeU32(buf, 4, ((seq % 47721858) * 90) >>> 0);
  writeU32(buf, 8, ssrc);
}

/** The RTP header at buf[0..12) is the one writeRtp writes for seq. */
export function rtpOk(buf: Uint8Array, seq: number, ssrc = RTP_SSRC): boolean {
  return buf.length >= RTP_HEADER_SIZE && buf[0] === 0x80 && buf[1] === 96 && ((buf[2] << 8) | buf[3]) === (seq & 0xffff)
    && readU32(buf, 4) === ((seq % 47721858) * 90) >>> 0 && readU32(buf, 8) === ssrc;
}
export const MIN_SIZE = HEADER_SIZE;
const MAGIC = [0x4d, 0x43, 0x52, 0x50]; // "MCRP"
const TWO32 = 0x100000000;

export interface PayloadInfo {
  ok: boolean;
  flow: number; // -1 when the magic is wrong
  seq: number; // -1 when the magic is wrong
  tNs: number;
}

// Reduced mod 256 first: seq*131 may exceed 2^53 and lose the low bits we need.
function patternBase(flow: number, seq: number): number {
  return ((seq % 256) * 131 + (flow % 256) * 17) & 0xff;
}

function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}

function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

function writeU64(buf: Uint8Array, off: number, v: number): void {
  writeU32(buf, off, Math.floor(v / TWO32));
  writeU32(buf, off + 4, v >>> 0);
}

function readU64(buf: Uint8Array, off: number): number {
  return readU32(buf, off) * TWO32 + readU32(buf, off + 4);
}

/** Fills buf[0..len) (default: all of buf) with one payload; len must be >= 24. */
export function writePayload(buf: Uint8Array, flow: number, seq: number, tNs: number, len = buf.length): void {
  if (len < MIN_SIZE) throw new Error(`payload size ${len} is below the minimum of ${MIN_SIZE}`);
  buf[0] = MAGIC[0];
  buf[1] = MAGIC[1];
  buf[2] = MAGIC[2];
  buf[3] = MAGIC[3];
  writeU32(buf, 4, flow);
  writeU64(buf, 8, seq);
  writeU64(buf, 16, tNs);
  const base = patternBase(flow, seq);
  for (let i = HEADER_SIZE; i < len; i++) buf[i] = (base + i) & 0xff;
}

const shared: PayloadInfo = { ok: false, flow: -1, seq: -1, tNs: 0 };

/**
 * Parses and verifies buf[0..len). Returns `out`, by default one shared object that the next call
 * overwrites (so the receive path allocates nothing). flow/seq/tNs are filled whenever the magic is
 * right, even if the pattern is not (ok=false then).
 */
export function checkPayload(buf: Uint8Array, len: number, out: PayloadInfo = shared): PayloadInfo {
  out.ok = false;
  out.flow = -1;
  out.seq = -1;
  out.tNs = 0;
  if (len < MIN_SIZE || buf[0] !== MAGIC[0] || buf[1] !== MAGIC[1] || buf[2] !== MAGIC[2] || buf[3] !== MAGIC[3]) {
    return out;
  }
  out.flow = readU32(buf, 4);
  out.seq = readU64(buf, 8);
  out.tNs = readU64(buf, 16);
  const base = patternBase(out.flow, out.seq);
  for (let i = HEADER_SIZE; i < len; i++) {
    if (buf[i] !== ((base + i) & 0xff)) return out;
  }
  out.ok = true;
  return out;
}

/**
 * Fast writer for senders: `buf` (size bytes) is the front of a larger array that also holds a
 * 256-periodic ramp, so each payload's pattern is one memmove (copyWithin) instead of a byte loop.
 */
export class PayloadWriter {
  readonly buf: Uint8Array;
  private readonly work: Uint8Array;
  private readonly size: number;

  constructor(size: number) {
    if (size < MIN_SIZE) throw new Error(`payload size ${size} is below the minimum of ${MIN_SIZE}`);
    this.size = size;
    this.work = new Uint8Array(size + 256 + size);
    for (let i = 0; i < 256 + size; i++) this.work[size + i] = i & 0xff;
    this.buf = this.work.subarray(0, size);
  }

  write(flow: number, seq: number, tNs: number): Uint8Array {
    writePayload(this.buf, flow, seq, tNs, HEADER_SIZE);
    const from = this.size + patternBase(flow, seq) + HEADER_SIZE;
    this.work.copyWithin(HEADER_SIZE, from, from + this.size - HEADER_SIZE);
    return this.buf;
  }
}
