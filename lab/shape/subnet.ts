// A /30 for the namespace that nothing on the host uses: no route but a default one, and no
// address, overlaps it — else the host would send some of its own traffic into the namespace.
import { formatIpv4, parseIpv4 } from "../../rules/ipv4.ts";
import { must } from "../netns.ts";

/** Where the /30s come from, tried in order (a host routing all of 10/8 elsewhere gets the next). */
export const RANGES = ["10.213.0.0/16", "172.30.213.0/24", "192.168.213.0/24"];

export interface Prefix {
  base: number;
  bits: number;
}

export interface Subnet {
  /** "10.213.4.4/30" */
  cidr: string;
  /** the host side's address (the namespace's gateway) and the namespace's */
  host: string;
  inside: string;
}

function prefix(s: string): Prefix | null {
  const [addr, len] = s.split("/");
  const base = parseIpv4(addr!);
  return base === null ? null : { base, bits: len === undefined ? 32 : Number(len) };
}

const mask = (bits: number) => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);

export function overlaps(p: Prefix, q: Prefix): boolean {
  const m = mask(Math.min(p.bits, q.bits));
  return ((p.base & m) >>> 0) === ((q.base & m) >>> 0);
}

/** Every IPv4 route (all tables, any type) and address prefix of the host, but default routes. */
export function hostPrefixes(): Prefix[] {
  const routes = JSON.parse(must(["ip", "-j", "-4", "route", "show", "table", "all"]) || "[]") as { dst: string }[];
  const links = JSON.parse(must(["ip", "-j", "-4", "addr", "show"]) || "[]") as { addr_info?: { local?: string; prefixlen?: number }[] }[];
  const addrs = links.flatMap((l) => (l.addr_info ?? []).filter((a) => a.local).map((a) => `${a.local}/${a.prefixlen ?? 32}`));
  return [...routes.map((r) => r.dst), ...addrs].flatMap((s) => {
    const p = s === "default" ? null : prefix(s);
    return p && p.bits > 0 ? [p] : [];
  });
}

/** The first free /30 of RANGES, from a random place in each (so concurrent runs rarely meet). */
export function pickSubnet(used: Prefix[], random: () => number = Math.random): Subnet | null {
  for (const range of RANGES) {
    const r = prefix(range)!;
    const blocks = 2 ** (30 - r.bits);
    const first = Math.floor(random() * blocks);
    for (let i = 0; i < blocks; i++) {
      const base = r.base + ((first + i) % blocks) * 4;
      if (used.some((u) => overlaps(u, { base, bits: 30 }))) continue;
      return { cidr: `${formatIpv4(base)}/30`, host: formatIpv4(base + 1), inside: formatIpv4(base + 2) };
    }
  }
  return null;
}
