// One way of a link as ingress sees it: which channel (rule number) a frame arriving on the
// link's end goes to — the first flow whose match it meets, else the direction's own. Matches
// are compiled into typed arrays at configure time; classify() allocates nothing.
import type { IngressLink } from "../protocol/worker.ts";

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
/** IPv6 extension headers walked to find the transport header: hop-by-hop, routing, destination options. */
const V6_EXT = new Set([0, 43, 60]);
const V6_FRAGMENT = 44;
/** Protocols whose first four bytes are the source and destination ports. */
const PORTED = new Set([6, 17, 132, 136]);

export class LinkEnd {
  readonly no: number;
  readonly down: boolean;
  /** set by classify(): the frame's IP TOS (traffic class) byte, 0 for anything else */
  tos = 0;
  /** set by classify(), for flow top: 4, 6 or 0 (not IP); the IP protocol (or the ethertype);
   *  the addresses' offsets; the ports (-1 when it has none) */
  family = 0;
  protocol = 0;
  src = 0;
  dst = 0;
  sport = -1;
  dport = -1;
  private readonly n: number;
  /** 0: no address match; 4 or 6 */
  private readonly fam: Uint8Array;
  private readonly prefix: Uint8Array;
  private readonly bits: Uint8Array;
  private readonly proto: Int16Array;
  private readonly portLo: Int32Array;
  private readonly portHi: Int32Array;
  private readonly nos: Int32Array;

  constructor(l: IngressLink) {
    this.no = l.no;
    this.down = l.down;
    const n = (this.n = l.flows.length);
    this.fam = new Uint8Array(n);
    this.prefix = new Uint8Array(16 * n);
    this.bits = new Uint8Array(n);
    this.proto = new Int16Array(n);
    this.portLo = new Int32Array(n);
    this.portHi = new Int32Array(n);
    this.nos = new Int32Array(n);
    l.flows.forEach((f, i) => {
      this.fam[i] = f.family;
      this.prefix.set(f.prefix, 16 * i);
      this.bits[i] = f.bits;
      this.proto[i] = f.protocol;
      this.portLo[i] = f.portLo;
      this.portHi[i] = f.portHi;
      this.nos[i] = f.no;
    });
  }

  /** The channel for the frame at b[off..off+len). */
  classify(b: Uint8Array, off: number, len: number): number {
    this.tos = 0;
    const end = off + len;
    let l3 = off + 14;
    let et = l3 <= end ? (b[off + 12] << 8) | b[off + 13] : -1; // too short: only a flow that matches everything
    while ((et === ETH_VLAN || et === ETH_QINQ) && l3 + 4 <= end) {
      et = (b[l3 + 2] << 8) | b[l3 + 3];
      l3 += 4;
    }
    let fam = 0, proto = -1, src = -1, dst = -1, l4 = -1;
    if (et === ETH_IPV4 && l3 + 20 <= end) {
      fam = 4;
      this.tos = b[l3 + 1];
      proto = b[l3 + 9];
      src = l3 + 12;
      dst = l3 + 16;
      const frag = ((b[l3 + 6] & 0x1f) << 8) | b[l3 + 7];
      if (frag === 0) l4 = l3 + (b[l3] & 15) * 4; // later fragments carry no ports
    } else if (et === ETH_IPV6 && l3 + 40 <= end) {
      fam = 6;
      this.tos = ((b[l3] & 15) << 4) | (b[l3 + 1] >> 4);
      proto = b[l3 + 6];
      src = l3 + 8;
      dst = l3 + 24;
      l4 = l3 + 40;
      for (let i = 0; i < 4 && l4 + 8 <= end; i++) {
        if (V6_EXT.has(proto)) {
          proto = b[l4];
          l4 += (b[l4 + 1] + 1) * 8;
        } else if (proto === V6_FRAGMENT) {
          const later = (((b[l4 + 2] << 8) | b[l4 + 3]) & 0xfff8) !== 0;
          proto = b[l4];
          l4 = later ? -1 : l4 + 8;
          break;
        } else break;
      }
    }
    let sport = -1, dport = -1;
    if (l4 >= 0 && l4 + 4 <= end && PORTED.has(proto)) {
      sport = (b[l4] << 8) | b[l4 + 1];
      dport = (b[l4 + 2] << 8) | b[l4 + 3];
    }
    this.family = fam;
    this.protocol = fam === 0 ? et & 0xffff : proto;
    this.src = src;
    this.dst = dst;
    this.sport = sport;
    this.dport = dport;
    for (let i = 0; i < this.n; i++) {
      if (this.fam[i] !== 0 && (this.fam[i] !== fam || !(this.inPrefix(i, b, src) || this.inPrefix(i, b, dst)))) continue;
      if (this.proto[i] >= 0 && this.proto[i] !== proto) continue;
      if (this.portLo[i] >= 0 && !((sport >= this.portLo[i] && sport <= this.portHi[i]) || (dport >= this.portLo[i] && dport <= this.portHi[i]))) continue;
      return this.nos[i];
    }
    return this.no;
  }

  private inPrefix(i: number, b: Uint8Array, at: number): boolean {
    const p = 16 * i;
    const bits = this.bits[i];
    let k = 0;
    for (; k + 8 <= bits; k += 8) if (b[at + (k >> 3)] !== this.prefix[p + (k >> 3)]) return false;
    if (k < bits) {
      const mask = (0xff << (8 - (bits - k))) & 0xff;
      if ((b[at + (k >> 3)] & mask) !== this.prefix[p + (k >> 3)]) return false;
    }
    return true;
  }
}
