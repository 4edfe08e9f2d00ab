// Medians of repeated trials, the loss-free search, and the markdown report.
import { writeSection } from "../doc.ts";
import type { Latency, Trial } from "./trial.ts";

/** Loss-free means less than 0.1 % loss. */
export const LOSS_FREE_PCT = 99.9;

export type Row = Omit<Trial, "iperfServer"> & { n: number };

/** "50k", "1.5M", "20000" → pps; "max" → null (the sender's full speed). */
export function parseRate(s: string): number | null {
  if (s === "max") return null;
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s);
  if (!m) throw new Error(`bad rate ${s} (e.g. 50k, 1.5M, 20000, max)`);
  return Math.round(Number(m[1]) * ({ k: 1e3, K: 1e3, m: 1e6, M: 1e6 }[m[2]!] ?? 1));
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
const medianOrNull = (xs: (number | null)[]) => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? median(v) : null;
};

/** The median of each metric over the repeats of one variant, size and rate. */
export function summarize(ts: Trial[]): Row {
  const t = ts[0]!;
  const num = (k: keyof Trial) => median(ts.map((x) => x[k] as number));
  const opt = (k: keyof Trial) => medianOrNull(ts.map((x) => x[k] as number | null));
  return {
    variant: t.variant, size: t.size, rate: t.rate, n: ts.length,
    sent: num("sent"), seconds: num("seconds"), offeredPps: num("offeredPps"),
    delivered: num("delivered"), deliveredPps: num("deliveredPps"), deliveredPct: num("deliveredPct"),
    receiverDrops: num("receiverDrops"), udpOut: num("udpOut"),
    relayCpuUs: opt("relayCpuUs"), softirqUs: opt("softirqUs"), machineUs: opt("machineUs"),
    latency: medianLatency(ts),
  };
}

function medianLatency(ts: Trial[]): Latency | null {
  const ls = ts.map((t) => t.latency).filter((l): l is Latency => l !== null);
  if (!ls.length) return null;
  const m = (k: keyof Latency) => median(ls.map((l) => l[k]));
  return { p50: m("p50"), p99: m("p99"), p999: m("p999"), over: m("over") };
}

/** The offered rate at which latency is compared: half the kernel's highest loss-free rate for this size. */
export function halfKernelRate(rows: Row[], search: SearchResult[], size: number): number | null {
  const s = search.find((x) => x.variant === "kernel" && x.size === size);
  const lossFree = rows.filter((r) => r.variant === "kernel" && r.size === size && r.deliveredPct >= LOSS_FREE_PCT);
  const best = s?.maxLossFreePps ?? Math.max(0, ...lossFree.map((r) => r.offeredPps));
  return best > 0 ? Math.round(best / 2 / 1000) * 1000 : null;
}

export interface SearchResult {
  variant: string;
  size: number;
  /** Highest offered rate (pps actually sent) seen loss-free; 0 if none. */
  maxLossFreePps: number;
  /** Lowest offered rate seen with loss above `maxLossFreePps`; null if the sender's maximum was loss-free. */
  lowestLossyPps: number | null;
  probes: Row[];
}

/** What the search needs of a measured rate (bench:relay's rows, bench:link's trials). */
type Measured = Pick<Row, "offeredPps" | "deliveredPct">;

/** Bisect between the highest loss-free and the lowest lossy offered rate; `probe` runs (and repeats) one rate. */
export async function searchMaxLossFree<R extends Measured = Row>(rows: R[], steps: number, probe: (rate: number) => Promise<R>) {
  const ok = (r: R) => r.deliveredPct >= LOSS_FREE_PCT;
  let lo = Math.max(0, ...rows.filter(ok).map((r) => r.offeredPps));
  const lossy = () => rows.filter((r) => !ok(r) && r.offeredPps > lo).map((r) => r.offeredPps);
  const probes: R[] = [];
  for (let i = 0; i < steps && lossy().length > 0; i++) {
    const hi = Math.min(...lossy());
    const mid = Math.round((lo + hi) / 2 / 500) * 500;
    if (hi - lo < 2000 || mid <= lo || mid >= hi) break;
    const r = await probe(mid);
    probes.push(r);
    rows = [...rows, r];
    if (ok(r)) lo = Math.max(lo, r.offeredPps);
  }
  const l = lossy();
  return { maxLossFreePps: lo, lowestLossyPps: l.length ? Math.min(...l) : null, probes };
}

const k = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));
const f = (x: number | null, d = 2) => (x === null ? "—" : x.toFixed(d));
const ms = (x: number) => (x === Infinity ? "> 200" : x < 1 ? x.toFixed(3) : x.toFixed(2));
const lat = (l: Latency | null) => (l ? `${ms(l.p50)} / ${ms(l.p99)} / ${ms(l.p999)}` : "—");

export function markdownTables(
  rows: Row[], search: SearchResult[], sizes: number[], variants: string[], latencyRates: Map<number, number> = new Map(),
): string {
  const out: string[] = [];
  for (const size of sizes) {
    out.push(`**${size} B payload**`, "");
    out.push("| offered (requested) | variant | offered pps | delivered pps | delivered % | relay CPU µs/pkt | softirq µs/pkt (machine) | latency p50 / p99 / p999 ms |");
    out.push("|---|---|--:|--:|--:|--:|--:|--:|");
    const rates = [...new Set(rows.filter((r) => r.size === size).map((r) => r.rate))].sort((a, b) => (a ?? Infinity) - (b ?? Infinity));
    for (const rate of rates) {
      for (const v of variants) {
        const r = rows.find((x) => x.size === size && x.rate === rate && x.variant === v);
        if (!r) continue;
        out.push(`| ${rate === null ? "max" : k(rate)} | ${v} | ${k(r.offeredPps)} | ${k(r.deliveredPps)} | ${r.deliveredPct.toFixed(2)} | ${f(r.relayCpuUs)} | ${f(r.softirqUs)} | ${lat(r.latency)} |`);
      }
    }
    out.push("");
  }
  if (latencyRates.size) {
    out.push("**Latency at half the kernel's highest loss-free rate** (send to receive, iperf trip times; ms)", "");
    out.push("| payload | offered (requested) | variant | delivered % | p50 | p99 | p999 |");
    out.push("|--:|--:|---|--:|--:|--:|--:|");
    for (const [size, rate] of latencyRates) {
      for (const v of variants) {
        const r = rows.find((x) => x.size === size && x.rate === rate && x.variant === v);
        if (!r?.latency) continue;
        out.push(`| ${size} B | ${k(rate)} | ${v} | ${r.deliveredPct.toFixed(2)} | ${ms(r.latency.p50)} | ${ms(r.latency.p99)} | ${ms(r.latency.p999)} |`);
      }
    }
    out.push("");
  }
  if (search.length) {
    out.push("**Highest loss-free rate (< 0.1 % loss), offered pps**", "");
    out.push(`| variant | ${sizes.map((s) => `${s} B`).join(" | ")} |`);
    out.push(`|---|${sizes.map(() => "--:").join("|")}|`);
    for (const v of variants) {
      const cells = sizes.map((s) => {
        const r = search.find((x) => x.variant === v && x.size === s);
        if (!r) return "—";
        const cell = r.lowestLossyPps === null ? `≥ ${k(r.maxLossFreePps)} (sender limit)` : `${k(r.maxLossFreePps)} (loss at ${k(r.lowestLossyPps)})`;
        // Losses are not always monotonic on a noisy machine: say so when a lower rate lost packets.
        const below = rows.filter((x) => x.variant === v && x.size === s && x.deliveredPct < LOSS_FREE_PCT && x.offeredPps < r.maxLossFreePps);
        return below.length ? `${cell}; but ${below.map((x) => `${x.deliveredPct.toFixed(2)} % at ${k(x.offeredPps)}`).join(", ")}` : cell;
      });
      out.push(`| ${v} | ${cells.join(" | ")} |`);
    }
    out.push("");
  }
  return out.join("\n");
}

/** The relay benchmark's section of docs/PERFORMANCE.md (bench/doc.ts keeps every section). */
export function updateDoc(path: string, section: string): void {
  const [heading, ...rest] = section.trim().split("\n");
  writeSection("relay", heading, rest.join("\n"), path);
}
