// What the relay itself said (its `mcrelay stats` and its log's warnings), and the run's signs of
// a defect in the link, said plainly: losses the bridge did not have, drops, errors.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LOSS_FREE_PCT } from "../relay/report.ts";
import { bridgeOf, type Results } from "./report.ts";

export interface RelayReport {
  /** `mcrelay stats --state-dir … --json` at the end of the variant (from shared memory: --no-api) */
  stats: unknown;
  /** log lines at warn or above (pino: level ≥ 40) */
  warnings: string[];
}

export function relayReport(repo: string, stateDir: string, logPath: string): RelayReport {
  // MCRELAY_API empty: the CLI must not find some other relay's API; with --no-api it reads shared memory.
  const p = Bun.spawnSync([join(repo, "node_modules/.bin/bun"), "bin/mcrelay.ts", "stats", "--state-dir", stateDir, "--json"],
    { cwd: repo, env: { ...process.env, MCRELAY_API: "", MCRELAY_API_TOKEN: "" }, stdout: "pipe", stderr: "pipe" });
  let stats: unknown;
  try {
    stats = JSON.parse(p.stdout.toString());
  } catch {
    stats = { error: `mcrelay stats exited ${p.exitCode}: ${p.stderr.toString().trim().slice(-500)}` };
  }
  const warnings = (existsSync(logPath) ? readFileSync(logPath, "utf8") : "").split("\n").filter((l) => {
    try {
      return JSON.parse(l).level >= 40;
    } catch {
      return false;
    }
  });
  return { stats, warnings };
}

const span = (xs: number[]) => {
  const lo = Math.min(...xs).toFixed(0), hi = Math.max(...xs).toFixed(0);
  return lo === hi ? lo : `${lo}–${hi}`;
};

/** Markdown bullets; empty when nothing looked wrong. */
export function defectNotes(r: Results, errors: Record<string, string>, relays: Record<string, object>): string {
  const notes: string[] = [];
  for (const [v, e] of Object.entries(errors)) notes.push(`- **${v}** stopped: ${e.split("\n")[0]}`);
  // Loss below what the bridge (same offloads) carried loss-free is loss at a low rate; above it,
  // the table's drop column says what the relay ran out of. One line per variant and size.
  for (const v of r.variants.filter((x) => x.startsWith("mcrelay"))) {
    for (const size of r.sizes) {
      const b = r.search.find((x) => x.variant === bridgeOf(v) && x.size === size);
      const lossy = r.udp.filter((t) => t.variant === v && t.size === size && t.deliveredPct < LOSS_FREE_PCT && b && t.offeredPps <= b.maxLossFreePps)
        .sort((x, y) => x.offeredPps - y.offeredPps);
      if (!lossy.length) continue;
      const reasons = [...new Set(lossy.flatMap((t) => Object.keys(t.drops)))];
      const waits = lossy.map((t) => t.relayRunWaitMs).filter((x): x is number => x !== null);
      notes.push(`- **${v}** UDP ${size} B lost packets below the ${Math.round(b!.maxLossFreePps)} pps ${b!.variant} carried loss-free: ` +
        lossy.map((t) => `${(100 - t.deliveredPct).toFixed(2)} % at ${Math.round(t.offeredPps)} pps`).join(", ") +
        `; the relay's counters: ${reasons.join(", ") || "no drop"}` +
        (waits.length ? `; its most-delayed process waited ${span(waits)} ms for a CPU in ${waits.length > 1 ? "those trials" : "that trial"}` : ""));
    }
  }
  for (const t of r.tcp.filter((x) => x.variant.startsWith("mcrelay"))) {
    const b = r.tcp.find((x) => x.variant === bridgeOf(t.variant) && x.streams === t.streams);
    if (Object.keys(t.drops).length || (b && t.retransmits > 10 * Math.max(10, b.retransmits))) {
      notes.push(`- **${t.variant}** TCP ×${t.streams}: ${t.retransmits} retransmits (${b?.variant ?? "the bridge"}: ${b?.retransmits ?? "—"})` +
        `${Object.keys(t.drops).length ? `, relay drops ${JSON.stringify(t.drops)}` : ""}`);
    }
  }
  for (const [v, rep] of Object.entries(relays) as [string, RelayReport][]) {
    if (rep.warnings.length) notes.push(`- **${v}**'s log has ${rep.warnings.length} warning(s) or worse; the first: \`${rep.warnings[0]!.slice(0, 300)}\``);
  }
  return notes.length ? `Signs of a defect in this run:\n\n${notes.join("\n")}` : "";
}
