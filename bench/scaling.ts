// bench:scaling — does a second core help? mcrelay --workers 1 vs --workers 2 with 16 flows (iperf
// clients, one source port each, spread by PACKET_FANOUT_HASH), the kernel as reference, each
// at fixed rates and at the senders' maximum. On a 2-core machine the sender and receiver share the
// cores with the relay, so this measures contention as much as scaling: docs/PERFORMANCE.md explains.
// Usage: bun run bench:scaling [--flows 16] [--sizes 64,1400] [--seconds 5] [--no-doc]
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSection } from "./doc.ts";
import { parseRate } from "./relay/report.ts";
import { runRelayBench, type SubRun } from "./relay/subrun.ts";

const { values: a } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    flows: { type: "string", default: "16" },
    sizes: { type: "string", default: "64,1400" },
    rates: { type: "string", default: "50k,150k,250k,350k,max" },
    seconds: { type: "string", default: "5" },
    "no-doc": { type: "boolean", default: false },
  },
});
const repo = resolve(import.meta.dir, "..");
const sizes = a.sizes!.split(",").map(Number);
const t0 = Date.now();
const rates = a.rates!.split(",");
const common = ["--flows", a.flows!, "--sizes", a.sizes!, "--rates", a.rates!, "--seconds", a.seconds!, "--no-latency"];
const runs: { label: string; run: SubRun }[] = [];
for (const [label, args] of [
  ["kernel (smcroute)", ["--only", "kernel"]],
  ["mcrelay --workers 1", ["--only", "mcrelay", "--workers", "1"]],
  ["mcrelay --workers 2", ["--only", "mcrelay", "--workers", "2"]],
] as const) {
  const run = runRelayBench([...args, ...common]);
  for (const e of Object.values(run.errors)) console.error(`${label}: ${e}`);
  runs.push({ label, run });
  console.error(`${label}: ${run.rows.map((r) => `${r.size} B@${r.rate ?? "max"} ${(r.deliveredPps / 1000).toFixed(1)}k ${r.deliveredPct.toFixed(2)} %`).join(", ")}`);
}

const k = (x: number) => `${(x / 1000).toFixed(1)}k`;
const lines: string[] = [];
for (const size of sizes) {
  lines.push(`**${size} B payload** — delivered % (delivered pps), relay CPU µs per packet`, "");
  lines.push(`| relay | ${rates.join(" | ")} |`, `|---|${rates.map(() => "--:").join("|")}|`);
  for (const { label, run } of runs) {
    const cells = rates.map((r) => {
      const row = run.rows.find((x) => x.size === size && (r === "max" ? x.rate === null : x.rate === parseRate(r)));
      return row ? `${row.deliveredPct.toFixed(2)} % (${k(row.deliveredPps)})${row.relayCpuUs === null ? "" : `, ${row.relayCpuUs.toFixed(2)} µs`}` : "—";
    });
    lines.push(`| ${label} | ${cells.join(" | ")} |`);
  }
  lines.push("");
}
mkdirSync(resolve(repo, "bench/results"), { recursive: true });
const out = resolve(repo, `bench/results/scaling-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
await Bun.write(out, JSON.stringify({ args: a, runs }, null, 2) + "\n");

const body = `\`bun run bench:scaling\` — ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; took ${Math.round((Date.now() - t0) / 60000)} min.
${a.flows} flows (${a.flows} iperf 2 clients, one source port each) from \`src\`; the bench:relay topology and method;
delivered at fixed offered rates and at the senders' maximum (*max*: 16 iperf processes sending as fast as they
can on the 2 CPUs the relay uses). Raw data: \`bench/results/${out.split("/").pop()}\`.

${lines.join("\n")}`;
console.log(body);
const failed = runs.some((r) => Object.keys(r.run.errors).length > 0);
if (failed) console.error("some runs failed: docs/PERFORMANCE.md left as it was");
if (!a["no-doc"] && !failed) writeSection("scaling", "## One core or two: --workers 1 vs 2, 16 flows", body);
