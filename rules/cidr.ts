// Address prefixes for link flows: "10.0.0.0/8", "2001:db8::/32", or a bare address (one host).
import { isIPv4 } from "node:net";
import { parseIpv6 } from "./ip.ts";

export interface Cidr {
  v6: boolean;
  /** the prefix's bytes (4 or 16), host bits zero */
  bytes: number[];
  bits: number;
}

/** The prefix, or null when s is not one. */
export function parseCidr(s: string): Cidr | null {
  const [addr, len, extra] = s.split("/");
  if (extra !== undefined || !addr) return null;
  const v4 = isIPv4(addr);
  const bytes = v4 ? addr.split(".").map(Number) : parseIpv6(addr);
  if (!bytes) return null;
  const max = v4 ? 32 : 128;
  if (len !== undefined && !/^\d{1,3}$/.test(len)) return null;
  const bits = len === undefined ? max : Number(len);
  if (bits > max) return null;
  const masked = bytes.map((b, i) => b & (0xff << Math.max(0, 8 - Math.max(0, bits - i * 8))) & 0xff);
  return { v6: !v4, bytes: masked, bits };
}
