// Captures UDP/IPv4 frames arriving on an interface for a while and prints, per destination, what
// was really on the wire: how many came, the TTL, TOS, source addresses and ports they carried,
// and whether they were well formed — IPv4 header checksum, UDP checksum (or 0: "none"), lengths,
// the group's multicast MAC, never a fragment — and how many distinct IP IDs they used.
import { parseArgs } from "node:util";
import { ifIndex } from "../../c/inet.ts";
import { rawOpen, rawRecv } from "../../c/raw.ts";
import { formatIpv4 } from "../../rules/ipv4.ts";
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
  /** IPv4 total length or UDP length disagreeing with the frame */
  badLength: number;
  /** multicast frames not sent to the group's MAC (01:00:5e + its low 23 bits) */
  badMac: number;
  /** fragments (MF set or an offset) */
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

const end = Date.now() + Number(v.ms);
console.error("ready");
while (Date.now() < end) {
  const n = rawRecv(fd, buf, Math.max(1, end - Date.now()));
  if (n < 42 || buf[12] !== 0x08 || buf[13] !== 0 || buf[23] !== 17) continue;
  const ihl = (buf[14] & 15) * 4;
  const u = 14 + ihl;
  const dstWord = ((buf[30] << 24) | (buf[31] << 16) | (buf[32] << 8) | buf[33]) >>> 0;
  const key = `${formatIpv4(dstWord)}:${word(u + 2)}`;
  const s = (seen[key] ??= { packets: 0, ttl: [], tos: [], src: [], sports: [], badIpSum: 0, badUdpSum: 0, zeroUdpSum: 0, badLength: 0, badMac: 0,
    fragments: 0, ids: new Set(), unique: new Set(), badPayload: 0 });
  s.packets++;
  const from = formatIpv4(((buf[26] << 24) | (buf[27] << 16) | (buf[28] << 8) | buf[29]) >>> 0);
  if (!s.src.includes(from)) s.src.push(from);
  if (!s.ttl.includes(buf[22])) s.ttl.push(buf[22]);
  if (!s.tos.includes(buf[15])) s.tos.push(buf[15]);
  if (!s.sports.includes(word(u))) s.sports.push(word(u));
  (s.ids as Set<number>).add(word(18));
  if (sum(14, u) !== 0xffff) s.badIpSum++;
  const ipLen = word(16);
  const udpLen = word(u + 4);
  if (14 + ipLen > n || udpLen !== ipLen - ihl) s.badLength++;
  if ((word(20) & 0x3fff) !== 0) s.fragments++;
  if (dstWord >>> 28 === 14) {
    const mac = [0x01, 0x00, 0x5e, (dstWord >>> 16) & 0x7f, (dstWord >>> 8) & 0xff, dstWord & 0xff];
    if (mac.some((b, i) => buf[i] !== b)) s.badMac++;
  }
  const p = checkPayload(buf.subarray(u + 8, u + udpLen), udpLen - 8);
  if (p.ok) (s.unique as Set<number>).add(p.seq);
  else if (p.flow >= 0) s.badPayload++;
  if (word(u + 6) === 0) s.zeroUdpSum++;
  else {
    // The pseudo-header (addresses, protocol, UDP length) and the whole datagram.
    const pseudo = word(26) + word(28) + word(30) + word(32) + 17 + udpLen;
    if (sum(u, u + udpLen, pseudo) !== 0xffff) s.badUdpSum++;
  }
}
for (const s of Object.values(seen)) {
  s.ids = (s.ids as Set<number>).size;
  s.unique = (s.unique as Set<number>).size;
}
console.log(JSON.stringify(seen));
