// Captures UDP/IPv4 frames arriving on an interface for a while and prints, per destination,
// how many came and which TTL and TOS they carried. Used to check what is really on the wire.
import { parseArgs } from "node:util";
import { ifIndex } from "../../c/inet.ts";
import { rawOpen, rawRecv } from "../../c/raw.ts";
import { formatIpv4 } from "../../rules/ipv4.ts";

const { values: v } = parseArgs({ options: { interface: { type: "string" }, ms: { type: "string", default: "3000" } } });
const fd = rawOpen(ifIndex(v.interface!));
const buf = new Uint8Array(65536);
const seen: Record<string, { packets: number; ttl: number[]; tos: number[]; src: string[] }> = {};
const end = Date.now() + Number(v.ms);
console.error("ready");
while (Date.now() < end) {
  const n = rawRecv(fd, buf, Math.max(1, end - Date.now()));
  if (n < 42 || buf[12] !== 0x08 || buf[13] !== 0 || buf[23] !== 17) continue;
  const ihl = (buf[14] & 15) * 4;
  const dst = formatIpv4(((buf[30] << 24) | (buf[31] << 16) | (buf[32] << 8) | buf[33]) >>> 0);
  const key = `${dst}:${(buf[14 + ihl + 2] << 8) | buf[14 + ihl + 3]}`;
  const s = (seen[key] ??= { packets: 0, ttl: [], tos: [], src: [] });
  s.packets++;
  const from = formatIpv4(((buf[26] << 24) | (buf[27] << 16) | (buf[28] << 8) | buf[29]) >>> 0);
  if (!s.src.includes(from)) s.src.push(from);
  if (!s.ttl.includes(buf[22])) s.ttl.push(buf[22]);
  if (!s.tos.includes(buf[15])) s.tos.push(buf[15]);
}
console.log(JSON.stringify(seen));
