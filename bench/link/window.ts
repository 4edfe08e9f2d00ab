// What happened in `middle` while a trial ran: frames that crossed each way (the veth ends'
// counters, the same for the bridge and the link), CPU (the relay's processes; the machine's
// softirq) and the relay's own counters that moved (its drops, if any, by reason).
import { machineTicks } from "../relay/proc.ts";
import { devCounters, type LinkTopology } from "./topology.ts";
import type { Running } from "./variants.ts";

export interface Window {
  seconds: number;
  /** frames (an offloaded super-frame is one) and bytes that left middle towards right / left */
  aToB: { frames: number; bytes: number };
  bToA: { frames: number; bytes: number };
  relayTicks: number | null;
  /** ms the relay's processes waited runnable for a CPU: all of them, and the one that waited most */
  relayRunWaitMs: { total: number; max: number } | null;
  softirqTicks: number;
  busyTicks: number;
  /** the relay's counters that changed (drops included), as deltas */
  relay: Record<string, number>;
}

/** Starts a window; call the returned function at its end. */
export function openWindow(t: LinkTopology, r: Running): () => Window {
  const pid = t.middle.pid;
  const read = () => ({ t: performance.now(), a: devCounters(pid, t.ifs.a), b: devCounters(pid, t.ifs.b), m: machineTicks(), cpu: r.cpuTicks(), wait: r.runWaitNs(), c: r.counters() });
  const s = read();
  return () => {
    const e = read();
    const relay: Record<string, number> = {};
    for (const [k, v] of Object.entries(e.c)) if (v !== (s.c[k] ?? 0)) relay[k] = v - (s.c[k] ?? 0);
    return {
      seconds: (e.t - s.t) / 1000,
      aToB: { frames: e.b.txPackets - s.b.txPackets, bytes: e.b.txBytes - s.b.txBytes },
      bToA: { frames: e.a.txPackets - s.a.txPackets, bytes: e.a.txBytes - s.a.txBytes },
      relayTicks: e.cpu === null || s.cpu === null ? null : e.cpu - s.cpu,
      relayRunWaitMs: waits(s.wait, e.wait),
      softirqTicks: e.m.softirq - s.m.softirq,
      busyTicks: e.m.busy - s.m.busy,
      relay,
    };
  };
}

function waits(a: Map<number, number> | null, b: Map<number, number> | null): Window["relayRunWaitMs"] {
  if (!a || !b) return null;
  const d = [...b].filter(([pid]) => a.has(pid)).map(([pid, ns]) => (ns - a.get(pid)!) / 1e6);
  return { total: d.reduce((x, y) => x + y, 0), max: Math.max(0, ...d) };
}

/** The relay's drops in a window, by counter name (only those that are not zero). `outgoing` is
 *  not one: a link end's socket also sees the frames the link itself sent there, and skips them. */
export function dropsOf(w: Window): Record<string, number> {
  const drop = (k: string) => k.includes(".drops.") || (k.startsWith("workers.") && k !== "workers.outgoing");
  return Object.fromEntries(Object.entries(w.relay).filter(([k, v]) => drop(k) && v !== 0));
}
