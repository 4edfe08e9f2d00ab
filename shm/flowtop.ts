// "Flow top": the 5-tuples a pair's links carry, counted by ingress in a small open-addressed
// table in shared memory (one writer; readers take snapshots and diff them for rates). A key that
// finds no room in its probe window takes the place of the least busy entry there, so the table
// always holds the flows that are busy now. A reader may see an entry mid-update: a top view
// tolerates that, nothing is built on it.
import { FLOW_TOP_ENTRIES, FLOW_TOP_ENTRY_BYTES } from "./layout.ts";

const WORDS = FLOW_TOP_ENTRY_BYTES / 4;
/** Entry words: channel + 1 (0: empty), fam << 16 | protocol (fam 0: not IP, protocol = ethertype),
 *  sport << 16 | dport, src (4 words), dst (4 words), hash; f64 frames and bytes at words 12, 14. */
const E = { channel: 0, kind: 1, ports: 2, src: 3, dst: 7, hash: 11 } as const;
const FRAMES = 6; // f64 index within an entry
const BYTES = 7;
const PROBES = 8;
const MASK = FLOW_TOP_ENTRIES - 1;

export class FlowTopWriter {
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  /** the key being counted, filled by the caller through key() */
  private readonly k = new Uint32Array(11);

  constructor(buf: ArrayBuffer, off: number) {
    this.u32 = new Uint32Array(buf, off, WORDS * FLOW_TOP_ENTRIES);
    this.f64 = new Float64Array(buf, off, (WORDS / 2) * FLOW_TOP_ENTRIES);
  }

  /** Counts a frame of `len` bytes. b[src..], b[dst..]: its addresses (4 or 16 bytes by fam). */
  count(channel: number, fam: number, protocol: number, b: Uint8Array, src: number, dst: number, sport: number, dport: number, len: number): void {
    const k = this.k;
    k[E.channel] = channel + 1;
    k[E.kind] = ((fam << 16) | (protocol & 0xffff)) >>> 0;
    k[E.ports] = (((sport & 0xffff) << 16) | (dport & 0xffff)) >>> 0;
    const n = fam === 6 ? 4 : fam === 4 ? 1 : 0;
    for (let w = 0; w < 4; w++) {
      k[E.src + w] = w < n ? ((b[src + 4 * w] << 24) | (b[src + 4 * w + 1] << 16) | (b[src + 4 * w + 2] << 8) | b[src + 4 * w + 3]) >>> 0 : 0;
      k[E.dst + w] = w < n ? ((b[dst + 4 * w] << 24) | (b[dst + 4 * w + 1] << 16) | (b[dst + 4 * w + 2] << 8) | b[dst + 4 * w + 3]) >>> 0 : 0;
    }
    let h = 2166136261;
    for (let w = 0; w < 11; w++) h = Math.imul(h ^ k[w], 16777619);
    h >>>= 0;
    const u = this.u32;
    let victim = -1;
    let least = Infinity;
    for (let p = 0; p < PROBES; p++) {
      const i = (h + p) & MASK;
      const base = i * WORDS;
      if (u[base + E.channel] === 0) return this.claim(i, h, len);
      if (u[base + E.hash] === h && this.same(base)) {
        this.f64[i * (WORDS / 2) + FRAMES]++;
        this.f64[i * (WORDS / 2) + BYTES] += len;
        return;
      }
      const f = this.f64[i * (WORDS / 2) + FRAMES];
      if (f < least) {
        least = f;
        victim = i;
      }
    }
    this.claim(victim, h, len);
  }

  private same(base: number): boolean {
    for (let w = 0; w < 11; w++) if (this.u32[base + w] !== this.k[w]) return false;
    return true;
  }

  private claim(i: number, h: number, len: number): void {
    const base = i * WORDS;
    this.u32.set(this.k, base);
    this.u32[base + E.hash] = h;
    this.f64[i * (WORDS / 2) + FRAMES] = 1;
    this.f64[i * (WORDS / 2) + BYTES] = len;
  }
}

export interface FlowEntry {
  channel: number;
  /** 4, 6, or 0 (not IP: protocol is then the ethertype) */
  family: number;
  protocol: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  frames: number;
  bytes: number;
}

function address(u: Uint32Array, at: number, fam: number): string {
  if (fam === 4) return [u[at]! >>> 24, (u[at]! >>> 16) & 255, (u[at]! >>> 8) & 255, u[at]! & 255].join(".");
  if (fam !== 6) return "";
  const groups: string[] = [];
  for (let w = 0; w < 4; w++) groups.push((u[at + w]! >>> 16).toString(16), (u[at + w]! & 0xffff).toString(16));
  // The longest run of zero groups becomes "::" (RFC 5952).
  let best = -1, len = 0;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > len && j - i > 1) (best = i), (len = j - i);
    i = j;
  }
  return best < 0 ? groups.join(":") : `${groups.slice(0, best).join(":")}::${groups.slice(best + len).join(":")}`;
}

/** Every entry of one pair's table. */
export function readFlowTop(buf: ArrayBuffer, off: number): FlowEntry[] {
  const u = new Uint32Array(buf, off, WORDS * FLOW_TOP_ENTRIES);
  const f = new Float64Array(buf, off, (WORDS / 2) * FLOW_TOP_ENTRIES);
  const out: FlowEntry[] = [];
  for (let i = 0; i < FLOW_TOP_ENTRIES; i++) {
    const base = i * WORDS;
    if (u[base + E.channel] === 0) continue;
    const fam = u[base + E.kind]! >>> 16;
    out.push({
      channel: u[base + E.channel]! - 1, family: fam, protocol: u[base + E.kind]! & 0xffff,
      src: address(u, base + E.src, fam), dst: address(u, base + E.dst, fam),
      sport: u[base + E.ports]! >>> 16, dport: u[base + E.ports]! & 0xffff,
      frames: f[i * (WORDS / 2) + FRAMES]!, bytes: f[i * (WORDS / 2) + BYTES]!,
    });
  }
  return out;
}
