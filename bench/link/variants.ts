// What joins left and right in `middle`: the kernel's bridge, or mcrelay's link between the two
// veth ends; each with the offloads as the kernel sets them or all off.
import { closeFd } from "../../c/inet.ts";
import { readStatus } from "../../services/protocol/status.ts";
import { openSegment, removeSegment } from "../../shm/segment.ts";
import { collectStats } from "../../shm/stats.ts";
import { startMcrelay } from "../fanout/relays.ts";
import { onCleanup, run, treeRunWaitNs } from "../relay/proc.ts";
import { exec } from "../relay/topology.ts";
import { offloadsOf, setOffloads, type LinkTopology, type Offloads } from "./topology.ts";

export type VariantName = "bridge" | "bridge-nooffload" | "mcrelay" | "mcrelay-nooffload";
export const VARIANT_NAMES: VariantName[] = ["bridge", "bridge-nooffload", "mcrelay", "mcrelay-nooffload"];

export interface Running {
  /** utime+stime of the relay's processes in ticks; null for the bridge (it forwards in softirq) */
  cpuTicks(): number | null;
  /** per relay process, ns it waited runnable for a CPU (null for the bridge) */
  runWaitNs(): Map<number, number> | null;
  /** the relay's own counters, flattened ("aToB.rxPackets", "aToB.drops.pool_exhausted",
   *  "workers.kernel_ring_full", …); empty for the bridge */
  counters(): Record<string, number>;
  /** what --state-dir to give `mcrelay stats`, for the report of a defect */
  stateDir?: string;
  /** the offloads in force on the four ends, read back after they were set */
  offloads: Record<string, Offloads>;
  stop(): Promise<void>;
}

const ipn = (ns: string, ...args: string[]) => run(["ip", "-n", ns, ...args]);

async function bridge(t: LinkTopology, off: boolean): Promise<Running> {
  const offloads = setOffloads(t, off);
  const m = t.middle.name;
  ipn(m, "link", "add", "br0", "type", "bridge"); // STP off (the default): ports forward at once
  // br_netfilter, if the host loaded it, would send bridged frames through (empty) iptables: not what is measured.
  run(exec(m, ["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-arptables=0"]), { allowFail: true });
  for (const i of [t.ifs.a, t.ifs.b]) ipn(m, "link", "set", i, "master", "br0");
  ipn(m, "link", "set", "br0", "up");
  return { cpuTicks: () => null, runWaitNs: () => null, counters: () => ({}), offloads, stop: async () => void ipn(m, "link", "del", "br0") };
}

/** mcrelay's counters of the bench's link and of every worker, flattened, for deltas per trial. */
function flatten(s: ReturnType<typeof collectStats>): Record<string, number> {
  const out: Record<string, number> = {};
  const l = s.links[0];
  for (const dir of ["aToB", "bToA"] as const) {
    if (!l) break;
    const { flows: _f, drops, ...traffic } = l[dir];
    for (const [k, v] of Object.entries(traffic)) out[`${dir}.${k}`] = v as number;
    for (const [k, v] of Object.entries(drops)) out[`${dir}.drops.${k}`] = v;
  }
  for (const [k, v] of Object.entries(s.drops)) out[`workers.${k}`] = v;
  return out;
}

async function mcrelay(t: LinkTopology, off: boolean, dir: string, repo: string, workers: number | null): Promise<Running> {
  setOffloads(t, off);
  const r = await startMcrelay(t.middle.name, { links: [{ name: "bench", a: t.ifs.a, b: t.ifs.b }] }, dir, repo,
    workers ? ["--workers", String(workers)] : [], (st) => st.links?.[0]?.state === "active");
  // Mapped once: each openSegment maps it anew and nothing unmaps (the mapping goes with this process).
  const st = readStatus(r.state)!;
  const seg = openSegment(st.shm);
  // A relay killed by cleanupAll (Ctrl-C) cannot remove its segment itself; one that stopped did already.
  onCleanup(() => void removeSegment(st.shm));
  return {
    cpuTicks: () => r.cpuTicks(),
    runWaitNs: () => treeRunWaitNs(r.pid),
    counters: () => flatten(collectStats(seg, st.rules, st.links ?? [])),
    stateDir: r.state,
    offloads: readBack(t),
    async stop() {
      closeFd(seg.fd);
      await r.stop();
    },
  };
}

/** The supervisor turns GRO off on a link's ends: what is in force once it runs. */
function readBack(t: LinkTopology): Record<string, Offloads> {
  return Object.fromEntries(t.ends.map((e) => [e.ifname, offloadsOf(e.ns, e.ifname)]));
}

export function startVariant(name: VariantName, t: LinkTopology, dir: string, o: { repo: string; workers: number | null }): Promise<Running> {
  const off = name.endsWith("-nooffload");
  return name.startsWith("bridge") ? bridge(t, off) : mcrelay(t, off, dir, o.repo, o.workers);
}
