// Ethernet (one 802.1Q tag at most) / IPv4 or IPv6 / UDP parsing of one frame, without
// allocation: the result goes into `out`. Returns 0 for a UDP datagram worth matching, else 1 +
// the index of the drop reason. What a router would refuse is refused here too, so the relay
// never launders a corrupt or impossible datagram under a fresh checksum: a wrong IPv4 header
// checksum, TTL (hop limit) 0, a source no host can have, UDP over IPv6 without a checksum. (The
// UDP checksum covers the payload; ingress checks it while copying.)
import { indexOf } from "../../shm/counters.ts";
import { PARSE_DROPS } from "../../shm/layout.ts";
import { ipv6Key } from "./match.ts";

const R = indexOf(PARSE_DROPS);
export const PARSE_OK = 0;
/** Return code of parseFrame for a reason: 1 + its index in PARSE_DROPS. */
export const code = (r: (typeof PARSE_DROPS)[number]) => 1 + R[r];

/**
 * Fields of out (host order). family: 4 or 6. src, dst: IPv4 addresses, or for IPv6 their keys
 * (ipv6Key: a hash of the 16 bytes; the bytes themselves are at addrOff, the destination 16 after
 * it). vlan: the frame's VLAN id, 0 when untagged. proto: the IP protocol (also filled when the
 * result is not_udp, with payloadOff/payloadLen the IP payload). udpSum: the UDP checksum field;
 * pseudo: the pseudo-header's and UDP header's ones'-complement sum (unfolded), to finish with
 * the payload's. tos: the IPv4 TOS or IPv6 traffic class byte.
 */
export const F = { src: 0, dst: 1, sport: 2, dport: 3, payloadOff: 4, payloadLen: 5, tos: 6, udpSum: 7, pseudo: 8, family: 9, vlan: 10, addrOff: 11, proto: 12 } as const;
export const PARSED_FIELDS = 13;

const SHORT = code("short_frame");
const NOT_IP = code("not_ip");
const QINQ = code("qinq");
const IP_TRUNC = code("ip_truncated");
const BAD_IHL = code("bad_ihl");
const BAD_TOT = code("bad_total_length");
const BAD_CSUM = code("bad_ip_checksum");
const FRAG = code("fragment");
const TTL0 = code("ttl_zero");
const MARTIAN = code("martian_source");
const NOT_UDP = code("not_udp");
const BAD_UDP = code("bad_udp_length");
const UDP_ZERO = code("udp_zero_checksum");

const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
/** IPv6 extension headers walked over to the upper layer: hop-by-hop, routing, destination options. */
const V6_HOP = 0, V6_ROUTING = 43, V6_DSTOPTS = 60, V6_FRAGMENT = 44;

/** A source no host may use: 0/8 ("this network"), 127/8 (loopback), 224/4 (multicast), 240/4
 *  (reserved, and 255.255.255.255). By the first octet: a table, one load per packet. */
const MARTIAN_FIRST_OCTET = new Uint8Array(256);
MARTIAN_FIRST_OCTET[0] = 1;
MARTIAN_FIRST_OCTET[127] = 1;
for (let o = 224; o < 256; o++) MARTIAN_FIRST_OCTET[o] = 1;

/** An IPv6 source no host may use: multicast (ff00::/8), :: and ::1. */
function martian6(b: Uint8Array, s: number): boolean {
  if (b[s] === 0xff) return true;
  if (b[s] !== 0) return false;
  for (let i = 1; i < 15; i++) if (b[s + i] !== 0) return false;
  return b[s + 15] <= 1;
}

/**
 * b[o..o+len) is the frame from its Ethernet header on. tag: the VLAN TCI the kernel took off the
 * frame (TP_STATUS_VLAN_VALID), or -1. A tag in the frame itself is read the same way; a second
 * tag (QinQ) is refused. VLAN id 0 (a priority tag) is untagged.
 */
export function parseFrame(b: Uint8Array, o: number, len: number, tag: number, out: Uint32Array): number {
  if (len < 14) return SHORT;
  let et = (b[o + 12] << 8) | b[o + 13];
  let ip = o + 14;
  let vlan = tag < 0 ? 0 : tag & 0xfff;
  if (et === ETH_VLAN || et === ETH_QINQ) {
    if (tag >= 0) return QINQ;
    if (len < 18) return SHORT;
    vlan = ((b[o + 14] << 8) | b[o + 15]) & 0xfff;
    et = (b[o + 16] << 8) | b[o + 17];
    ip = o + 18;
    if (et === ETH_VLAN || et === ETH_QINQ) return QINQ;
  }
  out[F.vlan] = vlan;
  const ipLen = o + len - ip;
  if (et !== ETH_IPV4) return et === ETH_IPV6 ? parse6(b, ip, ipLen, out) : NOT_IP;
  // IPv4, in this function: the path every IPv4 packet takes stays one body, as it was before IPv6.
  if (ipLen < 20) return IP_TRUNC;
  const vihl = b[ip];
  if (vihl >> 4 !== 4) return NOT_IP;
  const ihl = (vihl & 15) << 2;
  if (ihl < 20 || ihl > ipLen) return BAD_IHL;
  const tot = (b[ip + 2] << 8) | b[ip + 3];
  // Frames may carry padding after the datagram, never less than it claims.
  if (tot < ihl || tot > ipLen) return BAD_TOT;
  let sum = 0;
  for (let i = 0; i < ihl; i += 2) sum += (b[ip + i] << 8) | b[ip + i + 1];
  sum = (sum & 0xffff) + (sum >>> 16);
  if (((sum & 0xffff) + (sum >>> 16)) !== 0xffff) return BAD_CSUM;
  if (((b[ip + 6] << 8) | b[ip + 7]) & 0x3fff) return FRAG; // MF set or a non-zero offset
  if (b[ip + 8] === 0) return TTL0;
  if (MARTIAN_FIRST_OCTET[b[ip + 12]] === 1) return MARTIAN;
  const src = ((b[ip + 12] << 24) | (b[ip + 13] << 16) | (b[ip + 14] << 8) | b[ip + 15]) >>> 0;
  const dst = ((b[ip + 16] << 24) | (b[ip + 17] << 16) | (b[ip + 18] << 8) | b[ip + 19]) >>> 0;
  out[F.family] = 4;
  out[F.src] = src;
  out[F.dst] = dst;
  out[F.addrOff] = ip + 12;
  out[F.tos] = b[ip + 1];
  const proto = b[ip + 9];
  out[F.proto] = proto;
  if (proto !== 17) return notUdp(ip + ihl, tot - ihl, out);
  if (tot < ihl + 8) return BAD_UDP;
  const u = ip + ihl;
  const ulen = (b[u + 4] << 8) | b[u + 5];
  if (ulen !== tot - ihl) return BAD_UDP;
  const sport = (b[u] << 8) | b[u + 1];
  const dport = (b[u + 2] << 8) | b[u + 3];
  const udpSum = (b[u + 6] << 8) | b[u + 7];
  out[F.sport] = sport;
  out[F.dport] = dport;
  out[F.payloadOff] = u + 8;
  out[F.payloadLen] = ulen - 8;
  out[F.udpSum] = udpSum;
  // Pseudo-header (addresses, protocol, UDP length) and the UDP header itself, checksum included:
  // with the payload's sum added, a correct datagram folds to 0xffff.
  out[F.pseudo] = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 17 + ulen + sport + dport + ulen + udpSum;
  return PARSE_OK;
}

function parse6(b: Uint8Array, ip: number, ipLen: number, out: Uint32Array): number {
  if (ipLen < 40) return IP_TRUNC;
  if (b[ip] >> 4 !== 6) return NOT_IP;
  const end = ip + 40 + ((b[ip + 4] << 8) | b[ip + 5]);
  if (end > ip + ipLen) return BAD_TOT; // padding after it is fine, as for IPv4
  if (b[ip + 7] === 0) return TTL0;
  if (martian6(b, ip + 8)) return MARTIAN;
  // To the upper layer. Each header is at least 8 bytes, so this ends within the packet.
  let nh = b[ip + 6];
  let l4 = ip + 40;
  for (;;) {
    if (nh === V6_HOP || nh === V6_ROUTING || nh === V6_DSTOPTS) {
      if (l4 + 8 > end) return IP_TRUNC;
      nh = b[l4];
      l4 += (b[l4 + 1] + 1) << 3;
      if (l4 > end) return IP_TRUNC;
    } else if (nh === V6_FRAGMENT) {
      if (l4 + 8 > end) return IP_TRUNC;
      // Offset 0 and no more fragments: an atomic fragment (RFC 6946), the whole packet.
      if ((((b[l4 + 2] << 8) | b[l4 + 3]) & 0xfff9) !== 0) return FRAG;
      nh = b[l4];
      l4 += 8;
    } else break;
  }
  out[F.family] = 6;
  out[F.src] = ipv6Key(b, ip + 8);
  out[F.dst] = ipv6Key(b, ip + 24);
  out[F.addrOff] = ip + 8;
  out[F.tos] = ((b[ip] & 15) << 4) | (b[ip + 1] >> 4);
  out[F.proto] = nh;
  if (nh !== 17) return notUdp(l4, end - l4, out);
  if (end - l4 < 8) return BAD_UDP;
  const ulen = (b[l4 + 4] << 8) | b[l4 + 5];
  if (ulen !== end - l4) return BAD_UDP;
  const udpSum = (b[l4 + 6] << 8) | b[l4 + 7];
  if (udpSum === 0) return UDP_ZERO;
  udp(b, l4, ulen, udpSum, out);
  let ps = 0;
  for (let i = 8; i < 40; i += 2) ps += (b[ip + i] << 8) | b[ip + i + 1];
  out[F.pseudo] = ps + 17 + ulen + out[F.sport] + out[F.dport] + ulen + udpSum;
  return PARSE_OK;
}

function udp(b: Uint8Array, u: number, ulen: number, udpSum: number, out: Uint32Array): void {
  out[F.sport] = (b[u] << 8) | b[u + 1];
  out[F.dport] = (b[u + 2] << 8) | b[u + 3];
  out[F.payloadOff] = u + 8;
  out[F.payloadLen] = ulen - 8;
  out[F.udpSum] = udpSum;
}

/** Another protocol: its IP payload, whole, for a rule that relays that protocol. */
function notUdp(l4: number, len: number, out: Uint32Array): number {
  out[F.sport] = 0;
  out[F.dport] = 0;
  out[F.payloadOff] = l4;
  out[F.payloadLen] = len;
  out[F.udpSum] = 0;
  return NOT_UDP;
}

/** The parser's code for a frame that is IP but not UDP (its payload is in out all the same). */
export const NOT_UDP_CODE = NOT_UDP;

/** Folds a ones'-complement sum to 16 bits. */
export function fold(sum: number): number {
  sum = (sum & 0xffff) + Math.floor(sum / 65536);
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/** True when a datagram's UDP checksum is right, given the payload's ones'-complement sum. */
export function udpChecksumOk(out: Uint32Array, payloadSum: number): boolean {
  return fold(out[F.pseudo] + payloadSum) === 0xffff;
}
