// Address prefixes for link flows: "10.0.0.0/8", "2001:db8::/32", or a bare address (one host).
import { isIPv4, isIPv6 } from "node:net";

export interface Cidr {
  v6: boolean;
  /** the prefix's bytes (4 or 16), host bits zero */
  bytes: number[];
  bits: number;
}

function v6Bytes(s: string): number[] | null {
  if (!isIPv6(s)) return null;
  const [head, tail = ""] = s.includes("::") ? s.split("::") : [s, undefined as unknown as string];
  const part = (x: string) => (x ? x.split(":") : []);
  let h = part(head!), t = part(tail ?? "");
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const v4tail = (xs: string[]) => {
    const last = xs.at(-1);
    if (!last || !isIPv4(last)) return xs;
    const b = last.split(".").map(Number);
    return [...xs.slice(0, -1), ((b[0]! << 8) | b[1]!).toString(16), ((b[2]! << 8) | b[3]!).toString(16)];
  };
  if (s.includes("::")) t = v4tail(t);
  else h = v4tail(h);
  const groups = s.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  if (groups.length !== 8) return null;
  return groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

/** The prefix, or null when s is not one. */
export function parseCidr(s: string): Cidr | null {
  const [addr, len, extra] = s.split("/");
  if (extra !== undefined || !addr) return null;
  const v4 = isIPv4(addr);
  const bytes = v4 ? addr.split(".").map(Number) : v6Bytes(addr);
  if (!bytes) return null;
  const max = v4 ? 32 : 128;
  if (len !== undefined && !/^\d{1,3}$/.test(len)) return null;
  const bits = len === undefined ? max : Number(len);
  if (bits > max) return null;
  const masked = bytes.map((b, i) => b & (0xff << Math.max(0, 8 - Math.max(0, bits - i * 8))) & 0xff);
  return { v6: !v4, bytes: masked, bits };
}
