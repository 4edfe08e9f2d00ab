// bench:latency's tables: latency and added latency per variant, rate and size (medians over
// rounds), where mcrelay's time goes, and the goals of issue 17 checked against the figures.
import { median } from "../relay/report.ts";
import type { Trial } from "../relay/trial.ts";
import { STAGES, type HistogramStats, type Stage, type StageStats } from "./stages.ts";

export interface Cell {
  round: number;
  variant: string;
  size: number;
  rate: number;
  trial: Trial;
  stages: StageStats | null;
  /** share of the machine's CPU time the VM's host took during the trial (steal) */
  stolenPct?: number;
  histogram: HistogramStats | null;
}

type Q = "p50" | "p99" | "p999";
const QS: Q[] = ["p50", "p99", "p999"];

/** Goals on this machine (issue 17): added latency, µs. */
export const GOALS = [
  { variant: "mcrelay", rates: [20_000], p50: 50, p99: 500 },
  { variant: "mcrelay-ll", rates: [20_000, 100_000], p50: 15, p99: 100 },
] as const;

const finite = (xs: number[]) => xs.filter(Number.isFinite);
const med = (xs: number[]) => (finite(xs).length ? median(finite(xs)) : NaN);
const us = (x: number) => (!Number.isFinite(x) ? (Number.isNaN(x) ? "—" : "> 200k") : Math.abs(x) >= 1000 ? `${(x / 1000).toFixed(2)}k` : x.toFixed(x < 10 && x > -10 ? 1 : 0));
const k = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));

function cellsOf(cells: Cell[], variant: string, size: number, rate: number): Cell[] {
  return cells.filter((c) => c.variant === variant && c.size === size && c.rate === rate);
}

/** µs of a trial's percentile (iperf reports ms; Infinity when beyond its 200 ms histogram). */
const lat = (c: Cell, q: Q) => (c.trial.latency ? c.trial.latency[q] * 1000 : NaN);

/** Median over rounds of (variant − kernel of the same round) at a percentile, µs. */
export function added(cells: Cell[], variant: string, size: number, rate: number, q: Q): number {
  const diffs = cellsOf(cells, variant, size, rate).map((c) => {
    const kc = cells.find((x) => x.variant === "kernel" && x.size === size && x.rate === rate && x.round === c.round);
    return kc ? lat(c, q) - lat(kc, q) : NaN;
  });
  return med(diffs);
}

export function latencyReport(cells: Cell[], meta: { command: string; date: string; rounds: number; seconds: number; rates: number[]; sizes: number[];
  traceRatio: number; loadAverage1m: { start: number; end: number }; stolenPct: number; elapsedSeconds: number; file: string; variants: string[] }): string {
  const out: string[] = [];
  out.push(`\`${meta.command}\` — ${meta.date.slice(0, 16).replace("T", " ")} UTC; ${meta.rounds} round${meta.rounds > 1 ? "s" : ""} of ${meta.seconds} s per cell, medians over rounds; took ${Math.round(meta.elapsedSeconds / 60)} min; 1-min load average ${meta.loadAverage1m.start} at the start, ${meta.loadAverage1m.end} at the end; the host took ${meta.stolenPct} % of the VM's CPU time (steal; other jobs share this 2-core VM).`, "");
  out.push("Method: the bench:relay topology (`src —veth— relay —veth— dst`), one iperf 2 sender and receiver for every variant. The sender stamps",
    "each datagram as it sends it (`--trip-times`), the receiver takes the kernel's receive stamp and keeps a histogram of 1 µs bins: the",
    "latency of a packet is its trip from the sender's `write` to the receiver's kernel. *Added* is a relay's percentile minus the kernel's",
    "(smcroute) in the same round, rate and size: what the relay costs over the kernel's own forwarding. **mcrelay**: defaults; **mcrelay-v3**: `MCRELAY_TUNE_RING=v3` (the block ring, the default before issue 17); **mcrelay-ll**:",
    `\`--low-latency\` (auto: both workers busy-poll on the highest-numbered CPU). Both with \`traceSampleRatio\` ${meta.traceRatio}, for the stage records below.`,
    "*CPU*: the relay's processes' CPU time per delivered packet, and as cores (CPU time per second).", "");
  for (const size of meta.sizes) {
    out.push(`**${size} B payload** (µs)`, "");
    out.push("| rate | variant | delivered % | p50 / p99 / p999 | added p50 / p99 / p999 | relay CPU µs/pkt | cores | relay's own histogram p50 / p99 |");
    out.push("|--:|---|--:|--:|--:|--:|--:|--:|");
    for (const rate of meta.rates) {
      for (const v of meta.variants) {
        const cs = cellsOf(cells, v, size, rate);
        if (!cs.length) continue;
        const q = (x: Q) => us(med(cs.map((c) => lat(c, x))));
        const add = v === "kernel" ? "—" : QS.map((x) => us(added(cells, v, size, rate, x))).join(" / ");
        const cpu = med(cs.map((c) => c.trial.relayCpuUs ?? NaN));
        const cores = med(cs.map((c) => ((c.trial.relayCpuUs ?? NaN) * c.trial.deliveredPps) / 1e6));
        const h = cs.filter((c) => c.histogram && c.histogram.count > 0).map((c) => c.histogram!);
        const own = h.length ? `≤ ${us(med(h.map((x) => x.p50 ?? NaN)))} / ≤ ${us(med(h.map((x) => x.p99 ?? NaN)))}` : "—";
        out.push(`| ${k(rate)} | ${v} | ${med(cs.map((c) => c.trial.deliveredPct)).toFixed(2)} | ${QS.map(q).join(" / ")} | ${add} | ${us(cpu)} | ${Number.isFinite(cores) ? cores.toFixed(2) : "—"} | ${own} |`);
      }
    }
    out.push("");
  }
  out.push(stageTable(cells, meta));
  out.push(goalLines(cells, meta.sizes));
  out.push("", `Raw data: \`bench/results/${meta.file}\`.`);
  return out.join("\n");
}

const STAGE_NAMES: Record<Stage, string> = {
  ringWait: "in the AF_PACKET ring", toEgress: "ingress → egress takes it", toSubmit: "egress: take → submit",
  send: "submit → completion", total: "**relay total**",
};

/** Where mcrelay's time goes, p50 per stage (and the total's p99), from its sampled packets. */
function stageTable(cells: Cell[], meta: { variants: string[]; sizes: number[]; rates: number[] }): string {
  const out = ["**Where mcrelay's time goes** (µs, medians over rounds of each stage's p50 over the sampled packets; last column the total's p99).",
    "Stages: the kernel's receive stamp → ingress reads the frame (wake-up, or a hold) → egress takes its descriptor (ingress's batch,",
    "the descriptor ring, egress's wake-up) → egress submits (its queueing) → the send completes (the kernel's send path, which",
    "delivers to the receiver inside it, and the reap). What remains of the added latency beyond the relay total is the kernel's own",
    "path into and out of the relay namespace (AF_PACKET delivery, the send's qdisc and veth), which the kernel forwarding pays too.", ""];
  out.push(`| variant | size | rate | samples | ${STAGES.map((s) => STAGE_NAMES[s]).join(" | ")} | total p99 |`);
  out.push(`|---|--:|--:|--:|${STAGES.map(() => "--:").join("|")}|--:|`);
  for (const v of meta.variants.filter((x) => x !== "kernel")) {
    for (const size of meta.sizes) {
      for (const rate of meta.rates) {
        const st = cellsOf(cells, v, size, rate).map((c) => c.stages).filter((s): s is StageStats => s !== null);
        if (!st.length) continue;
        const p = (s: Stage) => us(med(st.map((x) => x.p50[s])));
        out.push(`| ${v} | ${size} | ${k(rate)} | ${med(st.map((x) => x.samples)).toFixed(0)} | ${STAGES.map(p).join(" | ")} | ${us(med(st.map((x) => x.p99.total)))} |`);
      }
    }
  }
  return out.join("\n") + "\n";
}

/** Each goal, met or not, with the figures it was judged on. */
function goalLines(cells: Cell[], sizes: number[]): string {
  const out = ["**Goals** (added latency on this 2-core machine, issue 17):", ""];
  for (const g of GOALS) {
    for (const rate of g.rates) {
      for (const size of sizes) {
        const p50 = added(cells, g.variant, size, rate, "p50");
        const p99 = added(cells, g.variant, size, rate, "p99");
        if (Number.isNaN(p50)) continue;
        const ok = p50 <= g.p50 && p99 <= g.p99;
        out.push(`- ${ok ? "met" : "**not met**"}: ${g.variant} at ${k(rate)} pps, ${size} B: added p50 ${us(p50)} µs (goal ≤ ${g.p50}), p99 ${us(p99)} µs (goal ≤ ${g.p99})`);
      }
    }
  }
  return out.join("\n");
}
