// Which rule a datagram belongs to: (input, VLAN, group, port[, source]) -> rule number, or -1
// (NO_RULE), or NO_VLAN when no rule of the input takes the frame's VLAN. Per input and VLAN one
// table; in it, IPv4 by a Map keyed group*65536+port (exact below 2^53), IPv6 by a Map keyed
// ipv6Key(group)*65536+port whose entries hold the group's 16 bytes, compared before they match
// (a key is a hash: two groups may share one). Nothing is allocated per lookup. A source-specific
// rule wins over an any-source rule for the same group and port. An untagged frame (VLAN 0) finds
// its input's table by one array index, as before VLANs.
import { parseIpv4 } from "../../rules/ipv4.ts";
import { parseIpv6 } from "../../rules/ip.ts";

export interface MatchRule {
  no: number;
  /** index of the input interface in the worker's input list */
  input: number;
  /** 802.1Q id, 0: untagged */
  vlan: number;
  /** canonical text, IPv4 or IPv6 */
  group: string;
  port: number;
  /** "" (or absent): any source */
  source?: string;
}

export const NO_RULE = -1;
export const NO_VLAN = -2;

/** A 32-bit key of the 16 bytes at b[o..o+16): a hash (multicast groups differ in their last
 *  bytes above all, so every word is mixed in). Equal addresses, equal keys; not the reverse. */
export function ipv6Key(b: ArrayLike<number>, o: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i += 4) {
    const w = (b[o + i]! << 24) | (b[o + i + 1]! << 16) | (b[o + i + 2]! << 8) | b[o + i + 3]!;
    h = Math.imul(h ^ w, 0x01000193);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

interface Entry4 {
  any: number;
  bySource: Map<number, number> | null;
}

/** An IPv6 address's rule, in a chain of those whose keys are equal. */
interface Addr6 {
  addr: Uint8Array;
  no: number;
  next: Addr6 | null;
}

interface Entry6 {
  group: Uint8Array;
  any: number;
  /** source key -> chain of sources */
  bySource: Map<number, Addr6> | null;
  /** another group with the same key and port */
  next: Entry6 | null;
}

interface Table {
  v4: Map<number, Entry4>;
  v6: Map<number, Entry6>;
}

function same(a: Uint8Array, b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[o + i]) return false;
  return true;
}

export class MatchTable {
  /** input index -> its untagged table, and that table's IPv4 map (one load less for most packets) */
  private readonly untagged: (Table | undefined)[] = [];
  private readonly untagged4: (Map<number, Entry4> | undefined)[] = [];
  /** input * 4096 + VLAN id -> its table */
  private readonly tagged = new Map<number, Table>();

  /** key: how IPv6 addresses are keyed (what the parser uses; a test gives one under which all collide). */
  constructor(rules: MatchRule[], private readonly key: (b: ArrayLike<number>, o: number) => number = ipv6Key) {
    for (const r of rules) {
      let t = r.vlan === 0 ? this.untagged[r.input] : this.tagged.get(r.input * 4096 + r.vlan);
      if (!t) {
        t = { v4: new Map(), v6: new Map() };
        if (r.vlan === 0) [this.untagged[r.input], this.untagged4[r.input]] = [t, t.v4];
        else this.tagged.set(r.input * 4096 + r.vlan, t);
      }
      const g4 = parseIpv4(r.group);
      if (g4 !== null) this.add4(t, g4, r);
      else this.add6(t, new Uint8Array(parseIpv6(r.group)!), r);
    }
  }

  private add4(t: Table, group: number, r: MatchRule): void {
    const key = group * 65536 + r.port;
    let e = t.v4.get(key);
    if (!e) t.v4.set(key, (e = { any: NO_RULE, bySource: null }));
    if (!r.source) e.any = r.no;
    else (e.bySource ??= new Map()).set(parseIpv4(r.source)!, r.no);
  }

  private add6(t: Table, group: Uint8Array, r: MatchRule): void {
    const key = this.key(group, 0) * 65536 + r.port;
    let e = t.v6.get(key) ?? null;
    while (e !== null && !same(e.group, group, 0)) e = e.next;
    if (e === null) {
      e = { group, any: NO_RULE, bySource: null, next: t.v6.get(key) ?? null };
      t.v6.set(key, e);
    }
    if (!r.source) {
      e.any = r.no;
      return;
    }
    const src = new Uint8Array(parseIpv6(r.source)!);
    const sk = this.key(src, 0);
    e.bySource ??= new Map();
    e.bySource.set(sk, { addr: src, no: r.no, next: e.bySource.get(sk) ?? null });
  }

  private table(input: number, vlan: number): Table | undefined {
    return vlan === 0 ? this.untagged[input] : this.tagged.get(input * 4096 + vlan);
  }

  /** An IPv4 datagram (addresses host order). */
  lookup(input: number, vlan: number, dst: number, dport: number, src: number): number {
    let m: Map<number, Entry4> | undefined;
    if (vlan === 0) m = this.untagged4[input];
    else {
      const t = this.tagged.get(input * 4096 + vlan);
      if (t === undefined) return NO_VLAN;
      m = t.v4;
    }
    if (m === undefined) return NO_RULE;
    const e = m.get(dst * 65536 + dport);
    if (e === undefined) return NO_RULE;
    if (e.bySource !== null) {
      const r = e.bySource.get(src);
      if (r !== undefined) return r;
    }
    return e.any;
  }

  /** An IPv6 datagram: the addresses' keys, and where its source address is in b (the
   *  destination follows it), to tell groups (and sources) with equal keys apart. */
  lookup6(input: number, vlan: number, dstKey: number, dport: number, srcKey: number, b: Uint8Array, addrOff: number): number {
    const t = this.table(input, vlan);
    if (t === undefined) return vlan === 0 ? NO_RULE : NO_VLAN;
    let e: Entry6 | null = t.v6.get(dstKey * 65536 + dport) ?? null;
    while (e !== null && !same(e.group, b, addrOff + 16)) e = e.next;
    if (e === null) return NO_RULE;
    if (e.bySource !== null) {
      for (let s = e.bySource.get(srcKey) ?? null; s !== null; s = s.next) if (same(s.addr, b, addrOff)) return s.no;
    }
    return e.any;
  }
}
