// The namespace and its two veth pairs:
//   [namespace: eth0 inside/30] ──veth── a [the relay's link] b ──veth── h host/30 [host: forwarding, NAT]
// a and b carry no address and belong to the link; the host's kernel must leave what arrives on
// them alone. Linux answers ARP for any of its addresses on any interface: without arp_ignore its
// reply on a races the link's, and if it wins the namespace reaches the host straight through a,
// around the link; rp_filter drops whatever else the kernel would take from them as its own.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setOffload } from "../../c/ethtool.ts";
import { BUN, ROOT } from "../procs.ts";
import { must } from "../netns.ts";
import type { Subnet } from "./subnet.ts";

export interface Names {
  id: string;
  ns: string;
  a: string;
  b: string;
  h: string;
}

/** Interface names fit IFNAMSIZ (15): "shp" + 6 hex digits + one letter. */
export const names = (id: string): Names => ({ id, ns: `mcrelay-shape-${id}`, a: `shp${id}a`, b: `shp${id}b`, h: `shp${id}h` });

/** The interface COMMAND sees. */
export const INSIDE_IF = "eth0";

const sysctl = (key: string, value: string) => {
  const p = join("/proc/sys", ...key.split("."));
  if (existsSync(p)) writeFileSync(p, value);
};

/** Builds it all; `made` is told of each thing just before it is made (the journal records it). */
export function build(n: Names, s: Subnet, made: (what: { ns: string } | { iface: string }) => void): void {
  made({ ns: n.ns });
  must(["ip", "netns", "add", n.ns]);
  made({ iface: n.a });
  must(["ip", "link", "add", n.a, "type", "veth", "peer", "name", INSIDE_IF, "netns", n.ns]);
  made({ iface: n.b });
  must(["ip", "link", "add", n.b, "type", "veth", "peer", "name", n.h]);
  for (const i of [n.a, n.b, n.h]) sysctl(`net.ipv6.conf.${i}.disable_ipv6`, "1");
  for (const i of [n.a, n.b]) {
    sysctl(`net.ipv4.conf.${i}.arp_ignore`, "8");
    sysctl(`net.ipv4.conf.${i}.rp_filter`, "1");
  }
  // What the host sends into the namespace leaves h as wire frames too (not 64 KiB super-frames).
  for (const f of ["tx", "tso", "gso"] as const) setOffload(n.h, f, false);
  must(["ip", "addr", "add", `${s.host}/30`, "dev", n.h]);
  for (const i of [n.a, n.b, n.h]) must(["ip", "link", "set", i, "up"]);
  const pingGroups = readFileSync("/proc/sys/net/ipv4/ping_group_range", "utf8").trim().replace(/\s+/, " ");
  must(["ip", "netns", "exec", n.ns, BUN, join(ROOT, "lab", "shape", "inside.ts"), INSIDE_IF, pingGroups]);
  must(["ip", "-n", n.ns, "link", "set", "lo", "up"]);
  must(["ip", "-n", n.ns, "addr", "add", `${s.inside}/30`, "dev", INSIDE_IF]);
  must(["ip", "-n", n.ns, "link", "set", INSIDE_IF, "up"]);
  must(["ip", "-n", n.ns, "route", "add", "default", "via", s.host]);
  // Carrier comes up asynchronously; the relay's link is active only once both ends are up.
  const deadline = Date.now() + 5000;
  for (const [ns, i] of [[null, n.a], [null, n.b], [null, n.h], [n.ns, INSIDE_IF]] as const) {
    while (!/state UP/.test(must(["ip", ...(ns ? ["-n", ns] : []), "-o", "link", "show", "dev", i]))) {
      if (Date.now() > deadline) throw new Error(`interface ${i} did not come up within 5 s`);
      Bun.sleepSync(10);
    }
  }
}
