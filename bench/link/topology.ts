// left —veth— [middle] —veth— right: three namespaces (unique names, deleted by cleanupAll, also on
// Ctrl-C), one subnet across them. middle has no addresses: whatever crosses, its bridge or
// mcrelay's link carried. No IPv6 (no ND/MLD chatter), no default route anywhere.
import { readFileSync } from "node:fs";
import { link, namespaces, type Namespace } from "../fanout/topology.ts";
import { run } from "../relay/proc.ts";
import { exec } from "../relay/topology.ts";

/** The offloads a variant sets on the four veth ends (`ethtool -K` names). */
export const OFFLOADS = ["tx", "tso", "gso", "gro"] as const;
export type Offloads = Record<(typeof OFFLOADS)[number], boolean>;

export interface LinkTopology {
  left: Namespace;
  middle: Namespace;
  right: Namespace;
  /** interface names: left's, middle's towards left (a), middle's towards right (b), right's */
  ifs: { left: string; a: string; b: string; right: string };
  addr: { left: string; right: string };
  /** every veth end with its namespace */
  ends: { ns: string; ifname: string }[];
  /** each end's offloads as the kernel set them when the veths were made */
  defaults: Map<string, Offloads>;
}

export function linkTopology(): LinkTopology {
  const { prefix: p, ns } = namespaces(["left", "middle", "right"], "mcrl");
  const ifs = { left: `${p}l`, a: `${p}a`, b: `${p}b`, right: `${p}r` };
  const addr = { left: "198.18.60.1", right: "198.18.60.2" };
  link({ ns: ns.left!.name, ifname: ifs.left, cidr: `${addr.left}/24` }, { ns: ns.middle!.name, ifname: ifs.a });
  link({ ns: ns.middle!.name, ifname: ifs.b }, { ns: ns.right!.name, ifname: ifs.right, cidr: `${addr.right}/24` });
  const ends = [
    { ns: ns.left!.name, ifname: ifs.left }, { ns: ns.middle!.name, ifname: ifs.a },
    { ns: ns.middle!.name, ifname: ifs.b }, { ns: ns.right!.name, ifname: ifs.right },
  ];
  const defaults = new Map(ends.map((e) => [e.ifname, offloadsOf(e.ns, e.ifname)]));
  return { left: ns.left!, middle: ns.middle!, right: ns.right!, ifs, addr, ends, defaults };
}

const FEATURE: Record<keyof Offloads, string> = {
  tx: "tx-checksumming", tso: "tcp-segmentation-offload", gso: "generic-segmentation-offload", gro: "generic-receive-offload",
};

/** What `ethtool -k` says of the four offloads on one interface. */
export function offloadsOf(ns: string, ifname: string): Offloads {
  const out = run(exec(ns, ["ethtool", "-k", ifname]));
  const on = (name: string) => new RegExp(`^${name}: on`, "m").test(out);
  return Object.fromEntries(OFFLOADS.map((k) => [k, on(FEATURE[k])])) as Offloads;
}

/** Sets the offloads of every end: all off, or back to the kernel's defaults. Returns what is in
 *  force afterwards, read back (a feature may depend on another: tso needs tx). */
export function setOffloads(t: LinkTopology, off: boolean): Record<string, Offloads> {
  const now: Record<string, Offloads> = {};
  for (const e of t.ends) {
    const want = off ? null : t.defaults.get(e.ifname)!;
    run(exec(e.ns, ["ethtool", "-K", e.ifname, ...OFFLOADS.flatMap((k) => [k, want?.[k] ? "on" : "off"])]));
    now[e.ifname] = offloadsOf(e.ns, e.ifname);
  }
  return now;
}

/** One interface's counters from /proc/<pid>/net/dev of the namespace `pid` is in. */
export function devCounters(pid: number, ifname: string): { rxBytes: number; rxPackets: number; txBytes: number; txPackets: number } {
  const line = readFileSync(`/proc/${pid}/net/dev`, "utf8").split("\n").find((l) => l.trim().startsWith(`${ifname}:`));
  if (!line) throw new Error(`no ${ifname} in /proc/${pid}/net/dev`);
  const f = line.split(":")[1]!.trim().split(/\s+/).map(Number);
  return { rxBytes: f[0]!, rxPackets: f[1]!, txBytes: f[8]!, txPackets: f[9]! };
}
