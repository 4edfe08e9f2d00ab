// bench:link's tables and the goal's verdict (markdown for docs/PERFORMANCE.md and the console).
import { LOSS_FREE_PCT } from "../relay/report.ts";
import type { PingResult } from "./ping.ts";
import type { TcpTrial } from "./tcp.ts";
import type { UdpTrial } from "./udp.ts";

export interface Search {
  variant: string;
  size: number;
  maxLossFreePps: number;
  /** null: the sender's maximum was loss-free */
  lowestLossyPps: number | null;
}

export interface Results {
  variants: string[];
  streams: number[];
  sizes: number[];
  tcp: TcpTrial[];
  udp: UdpTrial[];
  search: Search[];
  ping: Record<string, PingResult>;
}

/** The issue's goal: with offloads off, mcrelay's TCP ≥ 0.5 × the bridge's and ≥ 3.3 Gbit/s
 *  (synthetic-network's Rush figure: 1,490-byte frames on one core). */
export const GOAL = { ratio: 0.5, gbps: 3.3 };

const k = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));
const f = (x: number | null | undefined, d = 2) => (x === null || x === undefined ? "—" : x.toFixed(d));
const ms = (x: number | null | undefined) => (x === null || x === undefined ? "—" : x === Infinity ? "> 200" : x < 1 ? x.toFixed(3) : x.toFixed(2));
const drops = (d: Record<string, number>) => Object.entries(d).map(([n, v]) => `${n} ${v}`).join(", ") || "—";
const gbpsOf = (r: Results, v: string, s: number) => r.tcp.find((t) => t.variant === v && t.streams === s)?.gbps ?? null;
/** The bridge a variant is compared with: the one with the same offloads. */
export const bridgeOf = (v: string) => (v.endsWith("-nooffload") ? "bridge-nooffload" : "bridge");

export function tcpTable(r: Results): string {
  const out = ["| variant | streams | Gbit/s | × bridge (same offloads) | retransmits | frames left → right | mean frame B | relay cores | relay µs/frame | softirq µs/frame (machine) | relay waited for a CPU, ms | relay drops |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"];
  for (const s of r.streams) {
    for (const v of r.variants) {
      const t = r.tcp.find((x) => x.variant === v && x.streams === s);
      if (!t) continue;
      const b = gbpsOf(r, bridgeOf(v), s);
      const ratio = v.startsWith("bridge") || !b ? "—" : `${(t.gbps / b).toFixed(2)}×`;
      out.push(`| ${v} | ${s} | ${t.gbps.toFixed(2)} | ${ratio} | ${t.retransmits} | ${k(t.frames)} | ${t.meanFrameBytes.toFixed(0)} | ${f(t.relayCores)} | ${f(t.relayUsPerFrame)} | ${f(t.softirqUsPerFrame)} | ${f(t.window.relayRunWaitMs?.max, 0)} | ${drops(t.drops)} |`);
    }
  }
  return out.join("\n");
}

export function lossFreeTable(r: Results): string {
  const out = [`| variant | ${r.sizes.map((s) => `${s} B`).join(" | ")} |`, `|---|${r.sizes.map(() => "--:").join("|")}|`];
  for (const v of r.variants) {
    const cells = r.sizes.map((size) => {
      const s = r.search.find((x) => x.variant === v && x.size === size);
      if (!s) return "—";
      const cell = s.lowestLossyPps === null ? `≥ ${k(s.maxLossFreePps)} (sender limit)` : `${k(s.maxLossFreePps)} (loss at ${k(s.lowestLossyPps)})`;
      // A noisy machine is not monotonic: say so when a lower rate lost packets.
      const below = r.udp.filter((t) => t.variant === v && t.size === size && t.deliveredPct < LOSS_FREE_PCT && t.offeredPps < s.maxLossFreePps);
      return below.length ? `${cell}; but ${below.map((t) => `${t.deliveredPct.toFixed(2)} % at ${k(t.offeredPps)}`).join(", ")}` : cell;
    });
    out.push(`| ${v} | ${cells.join(" | ")} |`);
  }
  return out.join("\n");
}

export function udpTables(r: Results): string {
  const out: string[] = [];
  for (const size of r.sizes) {
    out.push(`**UDP, ${size} B payload**`, "", "| requested | variant | offered pps | delivered pps | delivered % | relay CPU µs/pkt | softirq µs/pkt (machine) | one-way p50 / p99 ms | relay waited for a CPU, ms | relay drops |",
      "|--:|---|--:|--:|--:|--:|--:|--:|--:|---|");
    const ts = r.udp.filter((t) => t.size === size).sort((a, b) => (a.rate ?? Infinity) - (b.rate ?? Infinity) || r.variants.indexOf(a.variant) - r.variants.indexOf(b.variant));
    for (const t of ts) {
      out.push(`| ${t.rate === null ? "max" : k(t.rate)} | ${t.variant} | ${k(t.offeredPps)} | ${k(t.deliveredPps)} | ${t.deliveredPct.toFixed(2)} | ${f(t.relayCpuUs)} | ${f(t.softirqUs)} | ${ms(t.latency?.p50)} / ${ms(t.latency?.p99)} | ${f(t.relayRunWaitMs, 0)} | ${drops(t.drops)} |`);
    }
    out.push("");
  }
  return out.join("\n");
}

export function latencyTable(r: Results): string {
  const out = ["| variant | replies | RTT p50 ms | RTT p99 ms | added p50 / p99 ms (vs the bridge, same offloads) |", "|---|--:|--:|--:|--:|"];
  for (const v of r.variants) {
    const p = r.ping[v];
    if (!p) continue;
    const b = r.ping[bridgeOf(v)];
    const add = !v.startsWith("bridge") && b?.p50Ms != null && p.p50Ms != null ? `${ms(p.p50Ms - b.p50Ms)} / ${ms(p.p99Ms! - b.p99Ms!)}` : "—";
    out.push(`| ${v} | ${p.received} of ${p.sent} | ${ms(p.p50Ms)} | ${ms(p.p99Ms)} | ${add} |`);
  }
  return out.join("\n");
}

/** The goal, judged per stream count on mcrelay-nooffload against bridge-nooffload. */
export function verdict(r: Results): { met: boolean | null; text: string } {
  const lines: string[] = [];
  let met: boolean | null = null;
  for (const s of r.streams) {
    const m = gbpsOf(r, "mcrelay-nooffload", s), b = gbpsOf(r, "bridge-nooffload", s);
    if (m === null || b === null) {
      lines.push(`- ${s} stream${s > 1 ? "s" : ""}: not measured (needs mcrelay-nooffload and bridge-nooffload)`);
      continue;
    }
    const ok = m >= GOAL.ratio * b && m >= GOAL.gbps;
    met = (met ?? true) && ok;
    lines.push(`- ${s} stream${s > 1 ? "s" : ""}: mcrelay-nooffload ${m.toFixed(2)} Gbit/s = ${(m / b).toFixed(2)}× the bridge's ${b.toFixed(2)} ` +
      `(${m >= GOAL.ratio * b ? "≥" : "<"} ${GOAL.ratio}×) and ${m >= GOAL.gbps ? "≥" : "<"} ${GOAL.gbps} Gbit/s: **${ok ? "met" : "not met"}**`);
  }
  const head = met === null ? "**Goal not judged** (a variant it needs did not run)." : met ? "**Goal met.**" : "**Goal not met.**";
  return { met, text: `${head}\n\n${lines.join("\n")}` };
}
