// src —veth— relay —veth— dst, three network namespaces with a per-run unique prefix.
// Addresses are from 198.18.0.0/15 (RFC 2544, benchmarking) and live only inside these namespaces;
// no namespace has a default route, so nothing can leave them.
import type { Subprocess } from "bun";
import { onCleanup, run, start } from "./proc.ts";

export interface Topology {
  id: string;
  ns: { src: string; relay: string; dst: string };
  /** Interface names (each lives in its own namespace). */
  ifs: { src: string; relayIn: string; relayOut: string; dst: string };
  addr: { src: string; relayIn: string; relayOut: string; dst: string };
  /** A `sleep` in each namespace: its /proc/<pid>/net gives that namespace's counters. */
  holder: { src: Subprocess; relay: Subprocess; dst: Subprocess };
}

export const exec = (ns: string, cmd: string[]) => ["ip", "netns", "exec", ns, ...cmd];

/** senderChecksums: the sender's veth computes checksums itself (TX offload off), so frames reach
 *  the relay with a real UDP checksum instead of a partial one it cannot (and need not) check. */
export function createTopology(o: { senderChecksums?: boolean } = {}): Topology {
  const id = Math.random().toString(16).slice(2, 8);
  const p = `mcrb${id}`; // 10 chars, so every name below is ≤ 15
  const ns = { src: `${p}-src`, relay: `${p}-rly`, dst: `${p}-dst` };
  const ifs = { src: `${p}s`, relayIn: `${p}i`, relayOut: `${p}o`, dst: `${p}d` };
  const addr = { src: "198.18.1.1", relayIn: "198.18.2.1", relayOut: "198.18.3.1", dst: "198.18.3.2" };

  onCleanup(() => {
    for (const n of Object.values(ns)) run(["ip", "netns", "del", n], { allowFail: true });
  });
  for (const n of Object.values(ns)) run(["ip", "netns", "add", n]);
  const ipn = (n: string, ...args: string[]) => run(["ip", "-n", n, ...args]);
  // Create each veth pair directly inside its namespaces: the names never appear in the host namespace.
  ipn(ns.src, "link", "add", ifs.src, "type", "veth", "peer", "name", ifs.relayIn, "netns", ns.relay);
  ipn(ns.relay, "link", "add", ifs.relayOut, "type", "veth", "peer", "name", ifs.dst, "netns", ns.dst);
  for (const n of Object.values(ns)) {
    // No IPv6: no MLD/ND chatter on the links.
    run(exec(n, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]));
    ipn(n, "link", "set", "lo", "up");
  }
  const up = (n: string, dev: string, cidr: string) => {
    run(exec(n, ["sysctl", "-qw", `net.ipv6.conf.${dev}.disable_ipv6=1`]), { allowFail: true });
    ipn(n, "addr", "add", cidr, "dev", dev);
    ipn(n, "link", "set", dev, "up");
  };
  up(ns.src, ifs.src, `${addr.src}/24`);
  up(ns.relay, ifs.relayIn, `${addr.relayIn}/24`); // a different subnet than the source
  up(ns.relay, ifs.relayOut, `${addr.relayOut}/24`);
  up(ns.dst, ifs.dst, `${addr.dst}/24`);
  ipn(ns.src, "route", "add", "224.0.0.0/4", "dev", ifs.src); // the sender's multicast goes out its veth
  if (o.senderChecksums) run(exec(ns.src, ["ethtool", "-K", ifs.src, "tx", "off"]));
  // The relay needs a route back to the source for the kernel's RPF check (and rp_filter); all variants get it.
  ipn(ns.relay, "route", "add", "198.18.1.0/24", "dev", ifs.relayIn);
  ipn(ns.dst, "route", "add", "224.0.0.0/4", "dev", ifs.dst);
  // iperf's server connect()s to the sender it hears; with kernel forwarding that is the original source.
  ipn(ns.dst, "route", "add", "198.18.1.0/24", "via", addr.relayOut);

  const hold = (n: string) => start(exec(n, ["sleep", "1000000"]));
  const holder = { src: hold(ns.src), relay: hold(ns.relay), dst: hold(ns.dst) };
  return { id, ns, ifs, addr, holder };
}
