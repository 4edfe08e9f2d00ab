// Namespaces for the fan-out and pipeline benchmarks, with a per-run unique prefix; addresses from
// 198.18.0.0/15 (RFC 2544) that exist only inside them, and no default route anywhere.
//   fan-out:  src —veth— rly —K veths— dst
//   pipeline: src —veth— r1 —veth— r2 —veth— r3 —veth— dst
import { onCleanup, run, start } from "../relay/proc.ts";
import { exec } from "../relay/topology.ts";

export interface Namespace {
  name: string;
  /** a `sleep` inside it: /proc/<pid>/net is the namespace's */
  pid: number;
}

const ipn = (n: string, ...args: string[]) => run(["ip", "-n", n, ...args]);

/** `tag` (4 characters) says whose namespaces they are (mcrf: fan-out and pipeline, mcrl: link). */
export function namespaces(names: string[], tag = "mcrf"): { prefix: string; ns: Record<string, Namespace> } {
  const prefix = `${tag}${Math.random().toString(16).slice(2, 6)}`; // 8 characters: names stay within 15
  const ns: Record<string, Namespace> = {};
  onCleanup(() => {
    for (const n of Object.values(ns)) run(["ip", "netns", "del", n.name], { allowFail: true });
  });
  for (const n of names) {
    const name = `${prefix}-${n}`;
    run(["ip", "netns", "add", name]);
    run(exec(name, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]));
    ipn(name, "link", "set", "lo", "up");
    ns[n] = { name, pid: start(exec(name, ["sleep", "1000000"])).pid };
  }
  return { prefix, ns };
}

/** A veth between two namespaces, addressed (an end without `cidr` gets none), up, offloads as the kernel sets them. */
export function link(a: { ns: string; ifname: string; cidr?: string }, b: { ns: string; ifname: string; cidr?: string }): void {
  ipn(a.ns, "link", "add", a.ifname, "type", "veth", "peer", "name", b.ifname, "netns", b.ns);
  for (const e of [a, b]) {
    run(exec(e.ns, ["sysctl", "-qw", `net.ipv6.conf.${e.ifname}.disable_ipv6=1`]), { allowFail: true });
    if (e.cidr) ipn(e.ns, "addr", "add", e.cidr, "dev", e.ifname);
    ipn(e.ns, "link", "set", e.ifname, "up");
  }
}

export interface FanTopology {
  src: Namespace;
  rly: Namespace;
  dst: Namespace;
  srcAddr: string;
  input: string;
  /** the relay's output interfaces, and their addresses */
  outs: { ifname: string; addr: string; peer: string }[];
}

export function fanTopology(k: number): FanTopology {
  const { prefix: p, ns } = namespaces(["src", "rly", "dst"]);
  link({ ns: ns.src!.name, ifname: `${p}s`, cidr: "198.18.1.1/24" }, { ns: ns.rly!.name, ifname: `${p}i`, cidr: "198.18.2.1/24" });
  const outs = Array.from({ length: k }, (_, i) => {
    const o = { ifname: `${p}o${i}`, addr: `198.19.${i}.1`, peer: `${p}d${i}` };
    link({ ns: ns.rly!.name, ifname: o.ifname, cidr: `${o.addr}/24` }, { ns: ns.dst!.name, ifname: o.peer, cidr: `198.19.${i}.2/24` });
    return o;
  });
  ipn(ns.src!.name, "route", "add", "224.0.0.0/4", "dev", `${p}s`);
  // The kernel's RPF check needs a route back to the source (mcrelay does not); every relay gets it.
  ipn(ns.rly!.name, "route", "add", "198.18.1.0/24", "dev", `${p}i`);
  return { src: ns.src!, rly: ns.rly!, dst: ns.dst!, srcAddr: "198.18.1.1", input: `${p}i`, outs };
}

export interface PipeTopology {
  src: Namespace;
  hops: Namespace[];
  dst: Namespace;
  srcAddr: string;
  /** per hop: its input and output interface and the output's address */
  ifs: { input: string; output: string; addr: string }[];
  dstIf: string;
}

export function pipeTopology(hops: number): PipeTopology {
  const names = ["src", ...Array.from({ length: hops }, (_, i) => `r${i + 1}`), "dst"];
  const { prefix: p, ns } = namespaces(names);
  const ifs: PipeTopology["ifs"] = [];
  for (let i = 0; i <= hops; i++) {
    const a = ns[names[i]!]!.name;
    const b = ns[names[i + 1]!]!.name;
    link({ ns: a, ifname: `${p}a${i}`, cidr: `198.18.${10 + i}.1/24` }, { ns: b, ifname: `${p}b${i}`, cidr: `198.18.${10 + i}.2/24` });
  }
  for (let h = 0; h < hops; h++) {
    ifs.push({ input: `${p}b${h}`, output: `${p}a${h + 1}`, addr: `198.18.${11 + h}.1` });
    // Routes back to the source for the kernel's RPF check, on every hop after the first (the
    // first has the source's subnet on its input already).
    if (h > 0) ipn(ns[names[h + 1]!]!.name, "route", "add", "198.18.10.0/24", "dev", `${p}b${h}`);
  }
  ipn(ns.src!.name, "route", "add", "224.0.0.0/4", "dev", `${p}a0`);
  return { src: ns.src!, hops: names.slice(1, -1).map((n) => ns[n]!), dst: ns.dst!, srcAddr: "198.18.10.1", ifs, dstIf: `${p}b${hops}` };
}
