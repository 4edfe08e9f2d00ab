// bun run bench:link — mcrelay's link against the kernel's bridge, side by side on one topology:
// left —veth— [middle] —veth— right. In middle either a bridge with both veth ends enslaved, or
// mcrelay with one link between them; each with the veths' offloads as the kernel sets them or
// all off (tx, tso, gso, gro). Per variant: ping RTT on the idle path, TCP throughput (iperf 2,
// 1 and 4 streams), UDP loss-free pps (iperf 2 at a series of rates and max, then bisection).
// Flags: --seconds 5 --only bridge,bridge-nooffload,mcrelay,mcrelay-nooffload --streams 1,4 --sizes 64,1400
//        --rates 20k,50k,100k,200k,300k,max --search-steps 3 --pings 500 --workers N (mcrelay's default:
//        one pair per CPU) --no-doc; an empty --streams "" or --sizes "" skips TCP or UDP. MCRL_KEEP=1 keeps the work directory (logs of every process).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSection } from "./doc.ts";
import { cleanupAll, onCleanup, run } from "./relay/proc.ts";
import { parseRate, searchMaxLossFree } from "./relay/report.ts";
import { linkSection } from "./link/doc.ts";
import { defectNotes, relayReport } from "./link/defects.ts";
import { ping, reachable, type PingResult } from "./link/ping.ts";
import { lossFreeTable, tcpTable, udpTables, latencyTable, verdict, type Results, type Search } from "./link/report.ts";
import { tcpTrial, type TcpTrial } from "./link/tcp.ts";
import { linkTopology } from "./link/topology.ts";
import { udpTrial, type UdpTrial } from "./link/udp.ts";
import { startVariant, VARIANT_NAMES, type VariantName } from "./link/variants.ts";

const repo = resolve(import.meta.dir, "..");
const { values: a } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    seconds: { type: "string", default: "5" },
    only: { type: "string", default: VARIANT_NAMES.join(",") },
    streams: { type: "string", default: "1,4" },
    sizes: { type: "string", default: "64,1400" },
    rates: { type: "string", default: "20k,50k,100k,200k,300k,max" },
    "search-steps": { type: "string", default: "3" },
    pings: { type: "string", default: "500" },
    workers: { type: "string" },
    "no-doc": { type: "boolean", default: false },
  },
});
const opts = {
  seconds: Number(a.seconds),
  only: a.only!.split(",") as VariantName[],
  // An empty list skips that part: --streams "" measures no TCP, --sizes "" no UDP.
  streams: a.streams!.split(",").filter(Boolean).map(Number),
  sizes: a.sizes!.split(",").filter(Boolean).map(Number),
  rates: a.rates!.split(",").map(parseRate),
  searchSteps: Number(a["search-steps"]),
  pings: Number(a.pings),
  workers: a.workers ? Number(a.workers) : null,
};
const bad = opts.only.filter((v) => !VARIANT_NAMES.includes(v));
if (bad.length) throw new Error(`--only takes: ${VARIANT_NAMES.join(",")} (not ${bad.join(",")})`);
if (process.getuid?.() !== 0) throw new Error("bench:link needs root (network namespaces)");

const log = (s: string) => console.error(s);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => (log(`\n${sig}: cleaning up`), cleanupAll(), process.exit(130)));
run(["bash", join(repo, "bench/setup.sh")]);
const t0 = Date.now();
const load = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
const loadStart = load();
const work = mkdtempSync(join(tmpdir(), "mcrl-"));
onCleanup(() => (process.env.MCRL_KEEP ? log(`kept ${work}`) : rmSync(work, { recursive: true, force: true })));

const tcp: TcpTrial[] = [];
const udp: UdpTrial[] = [];
const search: Search[] = [];
const pings: Record<string, PingResult> = {};
const errors: Record<string, string> = {};
const offloads: Record<string, object> = {};
const relays: Record<string, object> = {};
const label = (r: number | null) => (r === null ? "max" : `${r / 1000}k`);

try {
  const topo = linkTopology();
  log(`topology: ${topo.left.name} —veth— ${topo.middle.name} —veth— ${topo.right.name}`);
  for (const v of opts.only) {
    const dir = join(work, v);
    mkdirSync(dir);
    let relay;
    try {
      relay = await startVariant(v, topo, dir, { repo, workers: opts.workers });
    } catch (e) {
      errors[v] = (e as Error).message;
      log(`${v}: ${errors[v]}`);
      continue;
    }
    offloads[v] = relay.offloads;
    try {
      await reachable(topo);
      pings[v] = ping(topo, opts.pings);
      log(`${v.padEnd(17)} ping: ${pings[v].received}/${pings[v].sent}, RTT p50 ${pings[v].p50Ms?.toFixed(3)} ms, p99 ${pings[v].p99Ms?.toFixed(3)} ms`);
      for (const s of opts.streams) {
        const t = await tcpTrial(topo, v, relay, dir, s, opts.seconds);
        tcp.push(t);
        log(`${v.padEnd(17)} TCP ×${s}: ${t.gbps.toFixed(2)} Gbit/s, ${t.retransmits} retransmits, mean frame ${t.meanFrameBytes.toFixed(0)} B, ` +
          `relay ${t.relayCores?.toFixed(2) ?? "—"} cores, waited ${t.window.relayRunWaitMs?.max.toFixed(0) ?? "—"} ms for a CPU${Object.keys(t.drops).length ? `, drops ${JSON.stringify(t.drops)}` : ""}`);
      }
      for (const size of opts.sizes) {
        await udpTrial(topo, v, relay, dir, size, 1000, 1); // warm-up (ARP, JIT), not recorded
        const measure = async (rate: number | null) => {
          const t = await udpTrial(topo, v, relay, dir, size, rate, opts.seconds);
          udp.push(t);
          log(`${v.padEnd(17)} UDP ${String(size).padStart(4)} B ${label(rate).padStart(5)}: offered ${t.offeredPps.toFixed(0)} pps, delivered ${t.deliveredPct.toFixed(2)} %, ` +
            `relay ${t.relayCpuUs?.toFixed(2) ?? "—"} µs/pkt, waited ${t.relayRunWaitMs?.toFixed(0) ?? "—"} ms for a CPU${Object.keys(t.drops).length ? `, drops ${JSON.stringify(t.drops)}` : ""}`);
          return t;
        };
        const mine: UdpTrial[] = [];
        for (const r of opts.rates) mine.push(await measure(r));
        const s = await searchMaxLossFree(mine, opts.searchSteps, (r) => measure(r));
        search.push({ variant: v, size, maxLossFreePps: s.maxLossFreePps, lowestLossyPps: s.lowestLossyPps });
        log(`${v} ${size} B: highest loss-free ${s.maxLossFreePps.toFixed(0)} pps (lowest lossy ${s.lowestLossyPps?.toFixed(0) ?? "—"})`);
      }
    } catch (e) {
      errors[v] = (e as Error).message;
      log(`${v}: ${errors[v]}`);
    } finally {
      if (relay.stateDir) relays[v] = relayReport(repo, relay.stateDir, join(dir, "mcrelay.log"));
      await relay.stop();
    }
  }
} finally {
  cleanupAll();
}

// --- report ---
const date = new Date();
const cmd = `bun run bench:link${Bun.argv.length > 2 ? " " + Bun.argv.slice(2).join(" ") : ""}`;
const cpu = (readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "?").trim();
const meta = {
  command: cmd, date: date.toISOString(), kernel: run(["uname", "-r"]).trim(), cpu: `${cpu} × ${navigator.hardwareConcurrency}`, bun: Bun.version,
  iperf: Bun.spawnSync(["iperf", "-v"]).stderr.toString().trim().split(" (")[0], options: opts,
  loadAverage1m: { start: loadStart, end: load() }, elapsedSeconds: Math.round((Date.now() - t0) / 1000),
};
const results: Results = { variants: opts.only, streams: opts.streams, sizes: opts.sizes, tcp, udp, search, ping: pings };
const file = join(repo, `bench/results/link-${date.toISOString().replace(/[:.]/g, "-")}.json`);
mkdirSync(join(repo, "bench/results"), { recursive: true });
writeFileSync(file, JSON.stringify({ meta, errors, offloads, relays, ...results }, null, 2) + "\n");
const tables = [tcpTable(results), latencyTable(results), lossFreeTable(results), udpTables(results)].join("\n\n");
const notes = defectNotes(results, errors, relays);
if (!a["no-doc"]) writeSection("link", "## Link: mcrelay's link vs the kernel's bridge", linkSection(meta, results, errors, notes, file));
console.log([tables, verdict(results).text, notes].filter(Boolean).join("\n\n"));
console.log(`results: ${file}${a["no-doc"] ? "" : "; docs/PERFORMANCE.md updated"} (${meta.elapsedSeconds} s)`);
