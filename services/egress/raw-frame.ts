// An output's frame header for raw sends, built once when the output is configured: Ethernet
// (the group's multicast MAC, the interface's MAC), IPv4 (TTL, DSCP, the interface's address,
// the group) and UDP (ports), with what varies per packet left zero — lengths, IP ID, checksums —
// and the sums of the fixed words beside it, so that uring.c only adds what varies.
import { RAW_TEMPLATE } from "../../c/uring.ts";
import type { RawOutputSpec } from "../protocol/worker.ts";

/** 01:00:5e + the group's low 23 bits (RFC 1112). */
export function multicastMac(group: number): number[] {
  return [0x01, 0x00, 0x5e, (group >>> 16) & 0x7f, (group >>> 8) & 0xff, group & 0xff];
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
  t.set(multicastMac(o.dst), 0);
  t.set(parseMac(o.srcMac), 6);
  t[12] = 0x08; // IPv4
  t[14] = 0x45;
  t[15] = o.preserve ? 0 : (o.dscp << 2) & 0xff;
  // 16–19: total length and ID (per packet); 20–21: no DF, no fragments: the relay never sends
  // what does not fit the output's MTU, and multicast has no path MTU to discover.
  t[22] = o.ttl;
  t[23] = 17;
  const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  dv.setUint32(26, o.src >>> 0);
  dv.setUint32(30, o.dst >>> 0);
  dv.setUint16(34, o.sport);
  dv.setUint16(36, o.dport);
  const le = true; // the struct's own fields are in host order (x86 and arm64: little-endian)
  dv.setUint16(RAW_TEMPLATE.ipId, (Math.random() * 65536) & 0xffff, le);
  dv.setUint32(RAW_TEMPLATE.ipSum, words(t, 14, 34), le);
  dv.setUint32(RAW_TEMPLATE.udpSum, (o.src >>> 16) + (o.src & 0xffff) + (o.dst >>> 16) + (o.dst & 0xffff) + 17 + o.sport + o.dport, le);
  t[RAW_TEMPLATE.flags] = (o.checksum ? RAW_TEMPLATE.CSUM : 0) | (o.preserve ? RAW_TEMPLATE.TOS : 0);
}
