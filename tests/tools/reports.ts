// Captures the membership reports arriving on an interface for a while and prints them as JSON,
// one entry per report: IGMPv3 (IPv4 protocol 2, type 0x22), IGMPv2 reports and leaves (0x16,
// 0x17), MLDv2 (ICMPv6 type 143, after IPv6's hop-by-hop header) and MLDv1 (131, 132). Each
// IGMPv3/MLDv2 report lists its records: type (1 MODE_IS_INCLUDE, 2 MODE_IS_EXCLUDE,
// 3 CHANGE_TO_INCLUDE, 4 CHANGE_TO_EXCLUDE, 5 ALLOW_NEW_SOURCES, 6 BLOCK_OLD_SOURCES), group
// and sources. What a relay joined and left is read off the wire with it.
import { parseArgs } from "node:util";
import { ifIndex } from "../../c/inet.ts";
import { rawOpen, rawRecv } from "../../c/raw.ts";
import { formatIpv4 } from "../../rules/ipv4.ts";
import { formatIpv6 } from "../../rules/ip.ts";

const { values: v } = parseArgs({ options: { interface: { type: "string" }, ms: { type: "string", default: "3000" } } });
const fd = rawOpen(ifIndex(v.interface!));
const buf = new Uint8Array(65536);

export interface Report {
  /** "igmpv3", "igmpv2-report", "igmpv2-leave", "mldv2", "mldv1-report", "mldv1-done" */
  kind: string;
  src: string;
  /** the group of a v1/v2 message */
  group?: string;
  records?: { type: number; group: string; sources: string[] }[];
}

const word = (i: number) => (buf[i] << 8) | buf[i + 1];
const v4 = (i: number) => formatIpv4(((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0);

function igmp(ip: number, n: number): Report | null {
  const at = ip + (buf[ip] & 15) * 4;
  if (at + 8 > n) return null;
  const src = v4(ip + 12);
  const type = buf[at];
  if (type === 0x16 || type === 0x17) return { kind: type === 0x16 ? "igmpv2-report" : "igmpv2-leave", src, group: v4(at + 4) };
  if (type !== 0x22) return null;
  const records: Report["records"] = [];
  let r = at + 8;
  for (let k = word(at + 6); k > 0 && r + 8 <= n; k--) {
    const nsrc = word(r + 2);
    records.push({ type: buf[r], group: v4(r + 4), sources: Array.from({ length: nsrc }, (_, i) => v4(r + 8 + 4 * i)) });
    r += 8 + 4 * nsrc + 4 * buf[r + 1];
  }
  return { kind: "igmpv3", src, records };
}

function mld(ip: number, n: number): Report | null {
  let nh = buf[ip + 6];
  let at = ip + 40;
  while (nh === 0 || nh === 60) {
    if (at + 8 > n) return null;
    nh = buf[at];
    at += (buf[at + 1] + 1) * 8;
  }
  if (nh !== 58 || at + 8 > n) return null;
  const src = formatIpv6(buf, ip + 8);
  const type = buf[at];
  if (type === 131 || type === 132) return { kind: type === 131 ? "mldv1-report" : "mldv1-done", src, group: formatIpv6(buf, at + 8) };
  if (type !== 143) return null;
  const records: Report["records"] = [];
  let r = at + 8;
  for (let k = word(at + 6); k > 0 && r + 20 <= n; k--) {
    const nsrc = word(r + 2);
    records.push({ type: buf[r], group: formatIpv6(buf, r + 4), sources: Array.from({ length: nsrc }, (_, i) => formatIpv6(buf, r + 20 + 16 * i)) });
    r += 20 + 16 * nsrc + 4 * buf[r + 1];
  }
  return { kind: "mldv2", src, records };
}

const reports: Report[] = [];
const end = Date.now() + Number(v.ms);
console.error("ready");
while (Date.now() < end) {
  const n = rawRecv(fd, buf, Math.max(1, end - Date.now()));
  if (n < 34) continue;
  const et = word(12);
  const r = et === 0x0800 && buf[23] === 2 ? igmp(14, n) : et === 0x86dd && n >= 62 ? mld(14, n) : null;
  if (r) reports.push(r);
}
console.log(JSON.stringify(reports));
