// Ethernet/IPv4/UDP parsing of one frame, without allocation: the result goes into `out`.
// Returns 0 for a UDP datagram worth matching, else 1 + the index of the drop reason.
import { indexOf } from "../../shm/counters.ts";
import { PARSE_DROPS } from "../../shm/layout.ts";

const R = indexOf(PARSE_DROPS);
export const PARSE_OK = 0;
/** Return code of parseFrame for a reason: 1 + its index in PARSE_DROPS. */
export const code = (r: (typeof PARSE_DROPS)[number]) => 1 + R[r];

/** Fields of out (host order). */
export const F = { src: 0, dst: 1, sport: 2, dport: 3, payloadOff: 4, payloadLen: 5, tos: 6 } as const;

const SHORT = code("short_frame");
const NOT_IPV4 = code("not_ipv4");
const VLAN = code("vlan");
const IP_TRUNC = code("ip_truncated");
const BAD_IHL = code("bad_ihl");
const BAD_TOT = code("bad_total_length");
const FRAG = code("fragment");
const NOT_UDP = code("not_udp");
const BAD_UDP = code("bad_udp_length");

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
  if (((b[ip + 6] << 8) | b[ip + 7]) & 0x3fff) return FRAG; // MF set or a non-zero offset
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
  return PARSE_OK;
}
