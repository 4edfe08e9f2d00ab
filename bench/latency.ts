// bench:latency — the latency a relay adds: the kernel's own multicast forwarding (smcroute),
// mcrelay with its defaults and mcrelay --low-latency, side by side on the bench:relay topology,
// with the same sender and receiver: iperf 2 stamps each datagram as it sends it (--trip-times)
// and the receiver takes the kernel's receive stamp (1 µs histogram bins). Added latency is a
// relay's percentile minus the kernel's, same round, rate and size. Rounds repeat the whole
// sequence (each variant in turn), so the machine's drift falls on all alike; figures are medians
// over rounds. mcrelay's own records say where its time goes (bench/latency/stages.ts).
// Usage: bun run bench:latency [--rates 1k,20k,100k,300k] [--sizes 64,1400] [--seconds 5] [--rounds 3]
//        [--only kernel,mcrelay,mcrelay-ll] [--trace-ratio 0.01] [--no-doc] [--skip-setup]
//        [--add name:VAR=value,…,args=--flag value]  (more mcrelay settings, e.g. --add slice0:MCRELAY_TUNE_SLICE_US=0)
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSection } from "./doc.ts";
import { RelayRecords } from "./latency/stages.ts";
import { latencyReport, type Cell } from "./latency/report.ts";
import { cleanupAll, onCleanup, run } from "./relay/proc.ts";
import { parseRate } from "./relay/report.ts";
import { createTopology } from "./relay/topology.ts";
import { runTrial } from "./relay/trial.ts";
import { VARIANTS, mcrelayWith, type Variant } from "./relay/variants.ts";

const repo = resolve(import.meta.dir, "..");
const { values: a } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    rates: { type: "string", default: "1k,20k,100k,300k" },
    sizes: { type: "string", default: "64,1400" },
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    only: { type: "string", default: "kernel,mcrelay,mcrelay-ll" },
    "trace-ratio": { type: "string", default: "0.01" },
    "no-doc": { type: "boolean", default: false },
    "skip-setup": { type: "boolean", default: false },
    add: { type: "string", multiple: true, default: [] },
  },
});
const rates = a.rates!.split(",").map((r) => parseRate(r)!);
const sizes = a.sizes!.split(",").map(Number);
const seconds = Number(a.seconds);
const rounds = Math.max(1, Number(a.rounds));
const traceRatio = Number(a["trace-ratio"]);
const variants = a.only!.split(",").map((n) => VARIANTS.find((v) => v.name === n) ?? (() => { throw new Error(`unknown variant ${n}`); })());
for (const spec of a.add!) {
  const [name, kvs] = [spec.slice(0, spec.indexOf(":")), spec.slice(spec.indexOf(":") + 1)];
  const kv = kvs.split(",").map((x) => [x.slice(0, x.indexOf("=")), x.slice(x.indexOf("=") + 1)] as const);
  const env = Object.fromEntries(kv.filter(([k]) => /^MCRELAY_TUNE_[A-Z_]+$/.test(k)));
  const args = kv.find(([k]) => k === "args")?.[1].split(" ").filter(Boolean) ?? [];
  if (!name || kv.some(([k]) => k !== "args" && !/^MCRELAY_TUNE_[A-Z_]+$/.test(k))) throw new Error(`--add name:MCRELAY_TUNE_X=v,…,args=…, got ${spec}`);
  variants.push(mcrelayWith(`mcrelay-${name}` as Variant["name"], env, args));
}
if (!variants.some((v) => v.name === "kernel")) throw new Error("--only must include kernel: added latency is measured against it");
if (process.getuid?.() !== 0) throw new Error("bench:latency needs root (network namespaces)");
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => (cleanupAll(), process.exit(130)));
if (!a["skip-setup"]) run(["bash", join(repo, "bench/setup.sh")]);

const log = (s: string) => console.error(s);
const t0 = Date.now();
const load = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
const loadStart = load();
/** /proc/stat's cpu line: [all ticks, stolen ticks] — a VM's host running something else meanwhile. */
const cpuTicks = () => { const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number); return [f.reduce((x, y) => x + y, 0), f[7]!]; };
const stolenPct = (a: number[], b: number[]) => Math.round((1000 * (b[1]! - a[1]!)) / Math.max(1, b[0]! - a[0]!)) / 10;
const ticksStart = cpuTicks();
const work = mkdtempSync(join(tmpdir(), "mcrb-lat-"));
onCleanup(() => rmSync(work, { recursive: true, force: true }));
const cells: Cell[] = [];
try {
  const topo = createTopology();
  for (let round = 1; round <= rounds; round++) {
    for (const v of variants) {
      const dir = join(work, `${v.name}-${round}`);
      mkdirSync(dir);
      // A relay that did not get ready (a worker slower than the supervisor's 10 s to start, on a
      // machine other jobs load) is tried once more in a fresh directory before the run gives up.
      const relay = await v.start(topo, dir, { workers: 1, repo, traceRatio }).catch((e) => {
        log(`round ${round} ${v.name}: ${String(e).split("\n")[0]}; starting it again`);
        const again = join(work, `${v.name}-${round}-again`);
        mkdirSync(again);
        return v.start(topo, again, { workers: 1, repo, traceRatio });
      });
      try {
        const no = relay.stateDir ? (JSON.parse(readFileSync(join(relay.stateDir, "status.json"), "utf8")).rules?.[0]?.no ?? 0) : 0;
        const records = relay.stateDir ? new RelayRecords(relay.stateDir, no) : null;
        await runTrial(topo, v, relay, dir, sizes[0]!, 1000, 1); // warm-up (route cache, JIT), not recorded
        for (const size of sizes) {
          for (const rate of rates) {
            records?.begin();
            const ticks = cpuTicks();
            const t = await runTrial(topo, v, relay, dir, size, rate, seconds);
            const stolen = stolenPct(ticks, cpuTicks());
            const own = records?.end() ?? null;
            cells.push({ round, variant: v.name, size, rate, trial: t, stages: own?.stages ?? null, histogram: own?.histogram ?? null, stolenPct: stolen });
            const l = t.latency;
            log(`round ${round} ${v.name.padEnd(10)} ${String(size).padStart(4)} B ${String(rate / 1000).padStart(4)}k: offered ${t.offeredPps.toFixed(0)}, ` +
              `delivered ${t.deliveredPct.toFixed(2)} %, stolen ${stolen} %, relay ${t.relayCpuUs?.toFixed(2) ?? "—"} µs/pkt, ` +
              `p50/p99/p999 ${l ? [l.p50, l.p99, l.p999].map((x) => (x * 1000).toFixed(0)).join("/") : "—"} µs` +
              (own?.stages ? `; stages p50 ${Object.entries(own.stages.p50).map(([k, x]) => `${k} ${x.toFixed(1)}`).join(", ")} µs` : ""));
          }
        }
      } finally {
        await relay.stop();
      }
    }
  }
} finally {
  cleanupAll();
}

const date = new Date();
const cmd = `bun run bench:latency${Bun.argv.length > 2 ? " " + Bun.argv.slice(2).join(" ") : ""}`;
mkdirSync(join(repo, "bench/results"), { recursive: true });
const file = join(repo, `bench/results/latency-${date.toISOString().replace(/[:.]/g, "-")}.json`);
const meta = { command: cmd, date: date.toISOString(), kernel: run(["uname", "-r"]).trim(), rounds, seconds, rates, sizes, traceRatio,
  loadAverage1m: { start: loadStart, end: load() }, stolenPct: stolenPct(ticksStart, cpuTicks()), elapsedSeconds: Math.round((Date.now() - t0) / 1000) };
await Bun.write(file, JSON.stringify({ meta, cells }, null, 2) + "\n");
const body = latencyReport(cells, { ...meta, file: file.split("/").pop()!, variants: variants.map((v) => v.name) });
console.log(body);
if (!a["no-doc"]) writeSection("latency", "## Added latency: mcrelay (default, --low-latency) vs the kernel", body);
console.log(`results: ${file}`);
