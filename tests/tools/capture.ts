// Captures UDP frames (IPv4 or IPv6) arriving on an interface for a while and prints, per
// destination ("239.1.1.1:5000", "[ff0e::1]:5000"), what was really on the wire: how many came,
// the TTL (hop limit), TOS (traffic class), source addresses and ports they carried, and whether
// they were well formed — IPv4 header checksum, UDP checksum (or 0: "none"), lengths, the
// group's multicast MAC (01:00:5e…, 33:33…), never a fragment — and how many distinct IP IDs
// they used (IPv4; IPv6 has none). Another protocol's packets (a rule relaying ESP) are counted
// under "239.1.1.1 proto 50": their payload is checked as a lab payload, the whole IP payload.
import { parseArgs } from "node:util";
import { ifIndex } from "../../c/inet.ts";
import { rawOpen, rawRecv } from "../../c/raw.ts";
import { formatIpv4 } from "../../rules/ipv4.ts";
import { formatIpv6 } from "../../rules/ip.ts";
import { checkPayload } from "../../lab/payload.ts";

const { values: v } = parseArgs({ options: { interface: { type: "string" }, ms: { type: "string", default: "3000" } } });
const fd = rawOpen(ifIndex(v.interface!));
const buf = new Uint8Array(65536);

interface Seen {
  packets: number;
  ttl: number[];
  tos: number[];
  src: string[];
  sports: number[];
  /** frames whose IPv4 header checksum is wrong */
  badIpSum: number;
  /** frames whose UDP checksum is wrong (0 is counted as zeroUdpSum, not as bad) */
  badUdpSum: number;
  zeroUdpSum: number;
  /** IPv4 total length (IPv6 payload length) or UDP length disagreeing with the frame */
  badLength: number;
  /** multicast frames not sent to the group's MAC (01:00:5e + its low 23 bits; 33:33 + its low 32) */
  badMac: number;
  /** fragments (MF set or an offset; an IPv6 fragment header) */
  fragments: number;
  ids: Set<number> | number;
  /** distinct lab/payload.ts sequence numbers (flow 0), and payloads that failed its check */
  unique: Set<number> | number;
  badPayload: number;
}
const seen: Record<string, Seen> = {};

const word = (i: number) => (buf[i] << 8) | buf[i + 1];
function sum(from: number, to: number, s = 0): number {
  for (let i = from; i + 1 < to; i += 2) s += word(i);
  if ((to - from) & 1) s += buf[to - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

const fresh = (): Seen => ({ packets: 0, ttl: [], tos: [], src: [], sports: [], badIpSum: 0, badUdpSum: 0, zeroUdpSum: 0, badLength: 0, badMac: 0,
  fragments: 0, ids: new Set(), unique: new Set(), badPayload: 0 });
const once = <T>(xs: T[], x: T) => void (xs.includes(x) || xs.push(x));

/** What a UDP datagram at u (either family) says, once its IP header has been looked at. */
function datagram(s: Seen, u: number, udpLen: number, pseudo: number): void {
  once(s.sports, word(u));
  const p = checkPayload(buf.subarray(u + 8, u + udpLen), udpLen - 8);
  if (p.ok) (s.unique as Set<number>).add(p.seq);
  else if (p.flow >= 0) s.badPayload++;
  if (word(u + 6) === 0) s.zeroUdpSum++;
  else if (sum(u, u + udpLen, pseudo) !== 0xffff) s.badUdpSum++; // the pseudo-header and the whole datagram
}

/** A packet of another protocol than UDP: its whole IP payload is the lab payload. */
function opaque(s: Seen, at: number, len: number): void {
  const p = checkPayload(buf.subarray(at, at + len), len);
  if (p.ok) (s.unique as Set<number>).add(p.seq);
  else s.badPayload++;
}

function ipv4(n: number): void {
  if (n < 42 || buf[23] === 2) return; // IGMP: reports.ts reads those
  const ihl = (buf[14] & 15) * 4;
  const u = 14 + ihl;
  const dstWord = ((buf[30] << 24) | (buf[31] << 16) | (buf[32] << 8) | buf[33]) >>> 0;
  const udp = buf[23] === 17;
  const s = (seen[udp ? `${formatIpv4(dstWord)}:${word(u + 2)}` : `${formatIpv4(dstWord)} proto ${buf[23]}`] ??= fresh());
  s.packets++;
  once(s.src, formatIpv4(((buf[26] << 24) | (buf[27] << 16) | (buf[28] << 8) | buf[29]) >>> 0));
  once(s.ttl, buf[22]);
  once(s.tos, buf[15]);
  (s.ids as Set<number>).add(word(18));
  if (sum(14, u) !== 0xffff) s.badIpSum++;
  const ipLen = word(16);
  if ((word(20) & 0x3fff) !== 0) s.fragments++;
  if (dstWord >>> 28 === 14) {
    const mac = [0x01, 0x00, 0x5e, (dstWord >>> 16) & 0x7f, (dstWord >>> 8) & 0xff, dstWord & 0xff];
    if (mac.some((b, i) => buf[i] !== b)) s.badMac++;
  }
  if (!udp) {
    if (14 + ipLen > n) s.badLength++;
    else opaque(s, u, ipLen - ihl);
    return;
  }
  const udpLen = word(u + 4);
  if (14 + ipLen > n || udpLen !== ipLen - ihl) s.badLength++;
  datagram(s, u, udpLen, word(26) + word(28) + word(30) + word(32) + 17 + udpLen);
}

/** IPv6: the relay sends no extension headers, so a fragment header (44) is counted as a
 *  fragment and anything but UDP right after the header is not looked at. */
function ipv6(n: number): void {
  const nh = buf[20];
  if (n < 62 || nh === 0 || nh === 58) return; // hop-by-hop (MLD) and ICMPv6: not the relay's
  const frag = nh === 44;
  const udp = nh === 17;
  const u = frag ? 62 : 54;
  const s = (seen[udp || frag ? `[${formatIpv6(buf, 38)}]:${word(u + 2)}` : `[${formatIpv6(buf, 38)}] proto ${nh}`] ??= fresh());
  s.packets++;
  if (frag) {
    s.fragments++;
    return;
  }
  once(s.src, formatIpv6(buf, 22));
  once(s.ttl, buf[21]);
  once(s.tos, ((buf[14] & 15) << 4) | (buf[15] >> 4));
  if (buf[38] === 0xff && [0x33, 0x33, buf[50], buf[51], buf[52], buf[53]].some((b, i) => buf[i] !== b)) s.badMac++;
  if (!udp) {
    if (54 + word(18) > n) s.badLength++;
    else opaque(s, 54, word(18));
    return;
  }
  const udpLen = word(u + 4);
  if (54 + word(18) > n || udpLen !== word(18)) s.badLength++;
  datagram(s, u, udpLen, sum(22, 54) + 17 + udpLen);
}

const end = Date.now() + Number(v.ms);
console.error("ready");
while (Date.now() < end) {
  const n = rawRecv(fd, buf, Math.max(1, end - Date.now()));
  if (n < 42) continue;
  if (buf[12] === 0x08 && buf[13] === 0) ipv4(n);
  else if (buf[12] === 0x86 && buf[13] === 0xdd) ipv6(n);
}
for (const s of Object.values(seen)) {
  s.ids = (s.ids as Set<number>).size;
  s.unique = (s.unique as Set<number>).size;
}
console.log(JSON.stringify(seen));
