// Ethernet/IPv4/UDP parsing of one frame, without allocation: the result goes into `out`.
// Returns 0 for a UDP datagram worth matching, else 1 + the index of the drop reason.
// What a router would refuse is refused here too, so the relay never launders a corrupt or
// impossible datagram under a fresh checksum: a wrong IPv4 header checksum, TTL 0, a source no
// host can have. (The UDP checksum covers the payload; ingress checks it while copying.)
import { indexOf } from "../../shm/counters.ts";
import { PARSE_DROPS } from "../../shm/layout.ts";

const R = indexOf(PARSE_DROPS);
export const PARSE_OK = 0;
/** Return code of parseFrame for a reason: 1 + its index in PARSE_DROPS. */
export const code = (r: (typeof PARSE_DROPS)[number]) => 1 + R[r];

/** Fields of out (host order). udpSum: the UDP checksum field; pseudo: the pseudo-header's
 *  and UDP header's ones'-complement sum (unfolded), to finish with the payload's. */
export const F = { src: 0, dst: 1, sport: 2, dport: 3, payloadOff: 4, payloadLen: 5, tos: 6, udpSum: 7, pseudo: 8 } as const;
export const PARSED_FIELDS = 9;

const SHORT = code("short_frame");
const NOT_IPV4 = code("not_ipv4");
const VLAN = code("vlan");
const IP_TRUNC = code("ip_truncated");
const BAD_IHL = code("bad_ihl");
const BAD_TOT = code("bad_total_length");
const BAD_CSUM = code("bad_ip_checksum");
const FRAG = code("fragment");
const TTL0 = code("ttl_zero");
const MARTIAN = code("martian_source");
const NOT_UDP = code("not_udp");
const BAD_UDP = code("bad_udp_length");

/** A source no host may use: 0/8 ("this network"), 127/8 (loopback), 224/4 (multicast), 240/4
 *  (reserved, and 255.255.255.255). By the first octet: a table, one load per packet. */
const MARTIAN_FIRST_OCTET = new Uint8Array(256);
MARTIAN_FIRST_OCTET[0] = 1;
MARTIAN_FIRST_OCTET[127] = 1;
for (let o = 224; o < 256; o++) MARTIAN_FIRST_OCTET[o] = 1;

/**
 * b[o..o+len) is the frame from its Ethernet header on. vlanTagged: the kernel already took a
 * VLAN tag off (TP_STATUS_VLAN_VALID); a relay bound to an untagged port drops those.
 */
export function parseFrame(b: Uint8Array, o: number, len: number, vlanTagged: boolean, out: Uint32Array): number {
  if (len < 14) return SHORT;
  const et = (b[o + 12] << 8) | b[o + 13];
  if (vlanTagged || et === 0x8100 || et === 0x88a8) return VLAN;
  if (et !== 0x0800) return NOT_IPV4;
  const ip = o + 14;
  const ipLen = len - 14;
  if (ipLen < 20) return IP_TRUNC;
  const vihl = b[ip];
  if (vihl >> 4 !== 4) return NOT_IPV4;
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
  if (b[ip + 9] !== 17) return NOT_UDP;
  if (tot < ihl + 8) return BAD_UDP;
  const u = ip + ihl;
  const ulen = (b[u + 4] << 8) | b[u + 5];
  if (ulen !== tot - ihl) return BAD_UDP;
  out[F.src] = ((b[ip + 12] << 24) | (b[ip + 13] << 16) | (b[ip + 14] << 8) | b[ip + 15]) >>> 0;
  out[F.dst] = ((b[ip + 16] << 24) | (b[ip + 17] << 16) | (b[ip + 18] << 8) | b[ip + 19]) >>> 0;
  out[F.sport] = (b[u] << 8) | b[u + 1];
  out[F.dport] = (b[u + 2] << 8) | b[u + 3];
  out[F.payloadOff] = u + 8;
  out[F.payloadLen] = ulen - 8;
  out[F.tos] = b[ip + 1];
  const udpSum = (b[u + 6] << 8) | b[u + 7];
  out[F.udpSum] = udpSum;
  // Pseudo-header (addresses, protocol, UDP length) and the UDP header itself, checksum included:
  // with the payload's sum added, a correct datagram folds to 0xffff.
  out[F.pseudo] = (out[F.src] >>> 16) + (out[F.src] & 0xffff) + (out[F.dst] >>> 16) + (out[F.dst] & 0xffff) + 17 + ulen
    + out[F.sport] + out[F.dport] + ulen + udpSum;
  return PARSE_OK;
}

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
