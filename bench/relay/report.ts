// Medians of repeated trials, the loss-free search, and the markdown report.
import { writeSection } from "../doc.ts";
import type { Trial } from "./trial.ts";

/** Loss-free means less than 0.1 % loss. */
export const LOSS_FREE_PCT = 99.9;

export type Row = Omit<Trial, "iperfServer"> & { n: number };

const median = (xs: number[]) => {
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
  };
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

/** Bisect between the highest loss-free and the lowest lossy offered rate; `probe` runs (and repeats) one rate. */
export async function searchMaxLossFree(rows: Row[], steps: number, probe: (rate: number) => Promise<Row>) {
  const ok = (r: Row) => r.deliveredPct >= LOSS_FREE_PCT;
  let lo = Math.max(0, ...rows.filter(ok).map((r) => r.offeredPps));
  const lossy = () => rows.filter((r) => !ok(r) && r.offeredPps > lo).map((r) => r.offeredPps);
  const probes: Row[] = [];
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

export function markdownTables(rows: Row[], search: SearchResult[], sizes: number[], variants: string[]): string {
  const out: string[] = [];
  for (const size of sizes) {
    out.push(`**${size} B payload**`, "");
    out.push("| offered (requested) | variant | offered pps | delivered pps | delivered % | relay CPU µs/pkt | softirq µs/pkt (machine) |");
    out.push("|---|---|--:|--:|--:|--:|--:|");
    const rates = [...new Set(rows.filter((r) => r.size === size).map((r) => r.rate))];
    for (const rate of rates) {
      for (const v of variants) {
        const r = rows.find((x) => x.size === size && x.rate === rate && x.variant === v);
        if (!r) continue;
        out.push(`| ${rate === null ? "max" : k(rate)} | ${v} | ${k(r.offeredPps)} | ${k(r.deliveredPps)} | ${r.deliveredPct.toFixed(2)} | ${f(r.relayCpuUs)} | ${f(r.softirqUs)} |`);
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
        return r.lowestLossyPps === null ? `≥ ${k(r.maxLossFreePps)} (sender limit)` : `${k(r.maxLossFreePps)} (loss at ${k(r.lowestLossyPps)})`;
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
