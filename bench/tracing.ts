// bench:tracing — what per-rule tracing costs the data path: the same mcrelay bench with the
// sampling code compiled out (MCRELAY_TRACING=off), with the rule at ratio 0, and at ratio 0.01.
// Usage: bun bench/tracing.ts [--rates 200k,max] [--size 64] [--seconds 5] [--repeat 3] [--no-doc]
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeSection } from "./doc.ts";

const { values: v } = parseArgs({
  options: { rates: { type: "string", default: "200k,max" }, size: { type: "string", default: "64" }, seconds: { type: "string", default: "5" },
    repeat: { type: "string", default: "3" }, "no-doc": { type: "boolean" } },
});
const results = join(import.meta.dir, "results");
const newest = () => readdirSync(results).filter((f) => f.startsWith("relay-")).sort().pop()!;

const settings = [
  { label: "tracing compiled out", env: { MCRELAY_TRACING: "off" }, ratio: "0" },
  { label: "traceSampleRatio 0", env: {}, ratio: "0" },
  { label: "traceSampleRatio 0.01", env: {}, ratio: "0.01" },
];
const rows: string[] = [];
for (const s of settings) {
  const before = newest();
  const r = Bun.spawnSync([process.execPath, join(import.meta.dir, "relay.ts"), "--only", "mcrelay", "--sizes", v.size!, "--rates", v.rates!,
    "--seconds", v.seconds!, "--repeat", v.repeat!, "--trace-ratio", s.ratio, "--no-doc", "--skip-setup"],
    { env: { ...process.env, ...s.env }, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0 || newest() === before) throw new Error(`bench:relay failed for "${s.label}"`);
  const d = JSON.parse(readFileSync(join(results, newest()), "utf8"));
  for (const row of d.rows) {
    rows.push(`| ${s.label} | ${typeof row.rate !== "number" || row.rate === 0 ? "max" : `${(row.rate / 1000).toFixed(0)}k`} | ${(row.offeredPps / 1000).toFixed(1)}k | ${row.deliveredPct.toFixed(2)} | ${row.relayCpuUs.toFixed(2)} |`);
  }
}
const body = [
  `\`bun run bench:tracing\` — ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; mcrelay alone on the bench:relay topology, ${v.size} B payloads,`,
  `${v.seconds} s per rate, medians of ${v.repeat}. No OTLP endpoint is set: this measures the workers' side (the sampling test per`,
  "packet, and for sampled packets the header fields, two clock reads and the trace-ring record).",
  "",
  "| setting | requested | offered pps | delivered % | relay CPU µs/pkt |",
  "|---|--:|--:|--:|--:|",
  ...rows,
].join("\n");
console.log(body);
if (!v["no-doc"]) writeSection("tracing", "## Cost of per-rule tracing", body);
