// An output's frame header for raw sends, built once when the output is configured: Ethernet
// (the group's multicast MAC, the interface's MAC), IPv4 (TTL, DSCP, the interface's address,
// the group) or IPv6 (hop limit, traffic class, addresses) and UDP (ports), with what varies per
// packet left zero — lengths, IP ID, checksums — and the sums of the fixed words beside it, so
// that uring.c only adds what varies.
import { RAW_TEMPLATE } from "../../c/uring.ts";
import { parseIpv4 } from "../../rules/ipv4.ts";
import { parseIpv6 } from "../../rules/ip.ts";
import type { RawOutputSpec } from "../protocol/worker.ts";

/** 01:00:5e + the group's low 23 bits (RFC 1112). */
export function multicastMac(group: number): number[] {
  return [0x01, 0x00, 0x5e, (group >>> 16) & 0x7f, (group >>> 8) & 0xff, group & 0xff];
}

/** 33:33 + the group's low 32 bits (RFC 2464). */
export function multicastMac6(group: ArrayLike<number>): number[] {
  return [0x33, 0x33, group[12]!, group[13]!, group[14]!, group[15]!];
}

export function parseMac(s: string): number[] {
  const b = s.split(":").map((x) => parseInt(x, 16));
  if (b.length !== 6 || b.some((x) => !(x >= 0 && x <= 255))) throw new Error(`not a MAC address: "${s}"`);
  return b;
}

const words = (b: Uint8Array, from: number, to: number) => {
  let s = 0;
  for (let i = from; i < to; i += 2) s += (b[i] << 8) | b[i + 1];
  return s;
};

/** Writes the template (RAW_TEMPLATE layout) into t, which must be RAW_TEMPLATE.size bytes. */
export function writeTemplate(t: Uint8Array, o: RawOutputSpec): void {
  t.fill(0);
  const src = parseIpv4(o.src);
  const dst = parseIpv4(o.dst);
  if (src === null || dst === null) return writeTemplate6(t, o);
  t.set(multicastMac(dst), 0);
  t.set(parseMac(o.srcMac), 6);
  t[12] = 0x08; // IPv4
  t[14] = 0x45;
  t[15] = o.preserve ? 0 : (o.dscp << 2) & 0xff;
  // 16–19: total length and ID (per packet); 20–21: no DF, no fragments: the relay never sends
  // what does not fit the output's MTU, and multicast has no path MTU to discover.
  t[22] = o.ttl;
  t[23] = 17;
  const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  dv.setUint32(26, src >>> 0);
  dv.setUint32(30, dst >>> 0);
  dv.setUint16(34, o.sport);
  dv.setUint16(36, o.dport);
  const le = true; // the struct's own fields are in host order (x86 and arm64: little-endian)
  dv.setUint16(RAW_TEMPLATE.ipId, (Math.random() * 65536) & 0xffff, le);
  dv.setUint32(RAW_TEMPLATE.ipSum, words(t, 14, 34), le);
  dv.setUint32(RAW_TEMPLATE.udpSum, (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 17 + o.sport + o.dport, le);
  t[RAW_TEMPLATE.flags] = (o.checksum ? RAW_TEMPLATE.CSUM : 0) | (o.preserve ? RAW_TEMPLATE.TOS : 0);
}

/** Ethernet + IPv6 + UDP (62 bytes): 14 version and traffic class, 18 payload length (per
 *  packet), 20 next header, 21 hop limit, 22 source, 38 destination, 54 UDP. */
function writeTemplate6(t: Uint8Array, o: RawOutputSpec): void {
  const src = parseIpv6(o.src);
  const dst = parseIpv6(o.dst);
  if (!src || !dst) throw new Error(`raw output addresses ${o.src} -> ${o.dst} are not of one family`);
  t.set(multicastMac6(dst), 0);
  t.set(parseMac(o.srcMac), 6);
  t[12] = 0x86; // IPv6
  t[13] = 0xdd;
  const tclass = o.preserve ? 0 : (o.dscp << 2) & 0xff;
  t[14] = 0x60 | (tclass >> 4);
  t[15] = (tclass & 0x0f) << 4;
  t[20] = 17;
  t[21] = o.ttl;
  t.set(src, 22);
  t.set(dst, 38);
  const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  dv.setUint16(54, o.sport);
  dv.setUint16(56, o.dport);
  dv.setUint32(RAW_TEMPLATE.udpSum, words(t, 22, 54) + 17 + o.sport + o.dport, true);
  // UDP over IPv6 always has its checksum (RFC 8200), whatever the output says.
  t[RAW_TEMPLATE.flags] = RAW_TEMPLATE.V6 | RAW_TEMPLATE.CSUM | (o.preserve ? RAW_TEMPLATE.TOS : 0);
}
