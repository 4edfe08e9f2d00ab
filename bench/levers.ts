// bench:levers — each tuning lever (MCRELAY_TUNE_*, services/tune.ts) against the defaults, mcrelay
// alone on the bench:relay topology. Rounds interleave the settings so that the machine's drift
// falls on all of them alike; figures are medians over rounds.
// Usage: bun run bench:levers [--rounds 3] [--seconds 5] [--rates 250k,max] [--only baseline,spin0,…] [--no-doc]
//        [--add name:VAR=value,VAR=value …]  (more settings, e.g. --add combo:MCRELAY_TUNE_SPIN_US=0,MCRELAY_TUNE_PIN=split)
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSection } from "./doc.ts";
import { median, parseRate, type Row } from "./relay/report.ts";
import { runRelayBench } from "./relay/subrun.ts";

export const LEVERS: { name: string; what: string; env: Record<string, string> }[] = [
  { name: "baseline", what: "defaults: no idle spin, take 256, plain io_uring, no pinning, moderated V2 ring of 256 × 128 KiB blocks", env: {} },
  { name: "spin50", what: "spin 50 µs before sleeping (the default until these measurements)", env: { MCRELAY_TUNE_SPIN_US: "50" } },
  { name: "spin200", what: "spin 200 µs before sleeping", env: { MCRELAY_TUNE_SPIN_US: "200" } },
  { name: "defer", what: "io_uring SINGLE_ISSUER + DEFER_TASKRUN", env: { MCRELAY_TUNE_URING: "defer" } },
  { name: "fixed", what: "io_uring registered sockets (IOSQE_FIXED_FILE)", env: { MCRELAY_TUNE_URING: "fixed" } },
  { name: "take64", what: "egress takes ≤ 64 descriptors per turn (smaller submit batches)", env: { MCRELAY_TUNE_TAKE: "64" } },
  { name: "take1024", what: "egress takes ≤ 1024 descriptors per turn", env: { MCRELAY_TUNE_TAKE: "1024" } },
  { name: "pin-split", what: "ingress on CPU 0, egress on CPU 1", env: { MCRELAY_TUNE_PIN: "split" } },
  { name: "pin-same", what: "ingress and egress both on CPU 0", env: { MCRELAY_TUNE_PIN: "same" } },
  { name: "blocks32k", what: "AF_PACKET ring 1024 × 32 KiB blocks", env: { MCRELAY_TUNE_BLOCK_KIB: "32", MCRELAY_TUNE_BLOCKS: "1024" } },
  { name: "blocks512k", what: "AF_PACKET ring 64 × 512 KiB blocks", env: { MCRELAY_TUNE_BLOCK_KIB: "512", MCRELAY_TUNE_BLOCKS: "64" } },
  { name: "ring-v3", what: "TPACKET_V3 ring: a block at a time, full or after 1 ms (the default before issue 17)", env: { MCRELAY_TUNE_RING: "v3" } },
];

const { values: a } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "5" },
    rates: { type: "string", default: "250k,max" },
    sizes: { type: "string", default: "64,1400" },
    only: { type: "string", default: LEVERS.map((l) => l.name).join(",") },
    add: { type: "string", multiple: true, default: [] },
    "no-doc": { type: "boolean", default: false },
  },
});
const repo = resolve(import.meta.dir, "..");
const levers = a.only!.split(",").filter(Boolean).map((n) => LEVERS.find((l) => l.name === n) ?? (() => { throw new Error(`unknown lever ${n}`); })());
for (const spec of a.add!) {
  const [name, vars] = spec.split(":");
  const env = Object.fromEntries((vars ?? "").split(",").map((kv) => kv.split("=") as [string, string]));
  if (!name || !Object.keys(env).every((k) => /^MCRELAY_TUNE_[A-Z_]+$/.test(k))) throw new Error(`--add name:MCRELAY_TUNE_X=v,…, got ${spec}`);
  levers.push({ name, what: Object.entries(env).map(([k, v]) => `${k.replace("MCRELAY_TUNE_", "")}=${v}`).join(", "), env });
}
const sizes = a.sizes!.split(",").map(Number);
const rates = a.rates!.split(",");
const t0 = Date.now();

const rows = new Map<string, Row[]>(levers.map((l) => [l.name, []]));
for (let round = 1; round <= Number(a.rounds); round++) {
  for (const l of levers) {
    const got = runRelayBench(["--only", "mcrelay", "--sizes", a.sizes!, "--rates", a.rates!, "--seconds", a.seconds!, "--no-latency"], l.env);
    for (const e of Object.values(got.errors)) console.error(`${l.name}: ${e}`);
    rows.get(l.name)!.push(...got.rows);
    console.error(`round ${round} ${l.name}: ${got.rows.map((r) => `${r.size}B@${r.rate ?? "max"} ${(r.deliveredPps / 1000).toFixed(1)}k ${r.deliveredPct.toFixed(2)}%`).join(", ")}`);
  }
}

const finiteMedian = (xs: number[]) => median(xs.filter(Number.isFinite));
const pick = (name: string, size: number, rate: string) =>
  rows.get(name)!.filter((r) => r.size === size && (rate === "max" ? r.rate === null : r.rate === parseRate(rate)));
const cell = (name: string, size: number, rate: string) => {
  const rs = pick(name, size, rate);
  if (!rs.length) return "—";
  const pct = finiteMedian(rs.map((r) => r.deliveredPct));
  const kpps = finiteMedian(rs.map((r) => r.deliveredPps)) / 1000;
  const cpu = finiteMedian(rs.map((r) => r.relayCpuUs ?? NaN));
  const p50 = finiteMedian(rs.map((r) => r.latency?.p50 ?? NaN));
  const p99 = finiteMedian(rs.map((r) => r.latency?.p99 ?? NaN));
  const lat = Number.isFinite(p50) ? `, ${p50.toFixed(2)} / ${p99.toFixed(2)} ms` : "";
  return rate === "max" ? `${kpps.toFixed(0)}k (${pct.toFixed(1)} %), ${cpu.toFixed(2)} µs` : `${pct.toFixed(2)} %, ${cpu.toFixed(2)} µs${lat}`;
};
const cols = sizes.flatMap((s) => rates.map((r) => ({ s, r })));
const table = [
  `| lever | setting | ${cols.map(({ s, r }) => `${s} B @ ${r}`).join(" | ")} |`,
  `|---|---|${cols.map(() => "--:").join("|")}|`,
  ...levers.map((l) => `| ${l.name} | ${l.what} | ${cols.map(({ s, r }) => cell(l.name, s, r)).join(" | ")} |`),
].join("\n");

mkdirSync(resolve(repo, "bench/results"), { recursive: true });
const out = resolve(repo, `bench/results/levers-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
await Bun.write(out, JSON.stringify({ args: a, levers, rows: Object.fromEntries(rows) }, null, 2) + "\n");

const body = `\`bun run bench:levers --rounds ${a.rounds}\` — ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; took ${Math.round((Date.now() - t0) / 60000)} min.
mcrelay \`--workers 1\` alone on the bench:relay topology (iperf 2 sender and receiver on the same 2 CPUs), ${a.seconds} s per
trial, medians of ${a.rounds} interleaved rounds. Each cell: delivered % (or delivered pps at the sender's maximum), relay CPU
per delivered packet and, at fixed rates, latency p50 / p99. The setting is an environment variable (\`services/tune.ts\`) read by the supervisor and workers.

${table}

Raw data: \`bench/results/${out.split("/").pop()}\`.`;
console.log(body);
if (!a["no-doc"]) writeSection("levers", "## Levers, one at a time", body);
