// Addresses of either family as rules write them. Rules keep the text; everything else (the
// plan, the worker messages) carries the canonical text (canonicalIp), and the workers turn it
// into what their hot paths compare: an IPv4 host-order number, or an IPv6 address's 16 bytes.
import { isMulticast as isMulticast4, isUsableUnicast as isUsableUnicast4, parseIpv4 } from "./ipv4.ts";

export type Family = 4 | 6;

/** The 16 bytes of an IPv6 address written as text (RFC 4291: "::", an IPv4 tail), or null.
 *  A zone ("%eth0") is refused: the interface a rule names is the zone. */
export function parseIpv6(s: string): number[] | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(s) || s.length > 45) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (x: string): number[] | null => {
    if (x === "") return [];
    const out: number[] = [];
    const parts = x.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/** RFC 5952 text of the 16 bytes at b[o..o+16): lower case, the longest run of two or more zero
 *  groups (the first of equal ones) as "::". */
export function formatIpv6(b: ArrayLike<number>, o = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** 4 or 6 for an address in text, 0 for anything else. */
export function ipFamily(s: string): Family | 0 {
  return parseIpv4(s) !== null ? 4 : parseIpv6(s) !== null ? 6 : 0;
}

/** The one text of an address (IPv6 as RFC 5952 writes it; IPv4 is already unique, its parser
 *  refuses leading zeros): what keys, ids and comparisons use. Not an address: unchanged. */
export function canonicalIp(s: string): string {
  const v6 = parseIpv4(s) === null ? parseIpv6(s) : null;
  return v6 ? formatIpv6(v6) : s;
}

export function isMulticastIp(s: string): boolean {
  const v4 = parseIpv4(s);
  if (v4 !== null) return isMulticast4(v4);
  return parseIpv6(s)?.[0] === 0xff;
}

/** Addresses a relay can send to or take from a host: IPv4 as isUsableUnicast says; IPv6 except
 *  :: (unspecified), ::1 (loopback), ff00::/8 (multicast) and ::ffff:0:0/96 (an IPv4 host, which
 *  never appears on an IPv6 wire). Link-local (fe80::/10) is fine: the rule's interface is its zone. */
export function isUsableUnicastIp(s: string): boolean {
  const v4 = parseIpv4(s);
  if (v4 !== null) return isUsableUnicast4(v4);
  const b = parseIpv6(s);
  if (!b || b[0] === 0xff) return false;
  const zeroTo = (n: number) => b.slice(0, n).every((x) => x === 0);
  if (zeroTo(15) && (b[15] === 0 || b[15] === 1)) return false;
  return !(zeroTo(10) && b[10] === 0xff && b[11] === 0xff);
}

/** Source-specific multicast groups (RFC 4607): 232.0.0.0/8 and ff3x::/96. Joining one without a
 *  source is an any-source join that SSM routers ignore: such a rule would never receive. */
export function isSsmGroup(s: string): boolean {
  const v4 = parseIpv4(s);
  if (v4 !== null) return v4 >>> 24 === 232;
  const b = parseIpv6(s);
  return !!b && b[0] === 0xff && b[1]! >> 4 === 3 && b.slice(2, 12).every((x) => x === 0);
}

/** An address as C and the hot paths take it: IPv4 as a host-order number, IPv6 as 16 bytes. */
export function ipValue(s: string): number | Uint8Array {
  const v4 = parseIpv4(s);
  if (v4 !== null) return v4;
  const v6 = parseIpv6(s);
  if (!v6) throw new Error(`not an IP address: "${s}"`);
  return new Uint8Array(v6);
}
