// bun run bench:relay — mcrelay vs the kernel's multicast forwarding (smcroute) vs socat,
// in one topology (src —veth— relay —veth— dst, three network namespaces made and deleted here).
// Flags: --seconds 5 --rates 20k,50k,...,max --sizes 64,1400 --only kernel,socat,mcrelay,mcrelay-v3,mcrelay-ll
//        --workers 1 --flows 1 --repeat 1 --search [--search-steps 4] --no-latency --no-doc --skip-setup
//        --sender-checksums (the sender computes UDP checksums itself, so mcrelay verifies every one)
// MCRB_KEEP=1 keeps the work directory (relay, iperf logs) instead of deleting it.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { cleanupAll, onCleanup, run } from "./relay/proc.ts";
import { halfKernelRate, markdownTables, parseRate, searchMaxLossFree, summarize, updateDoc, type Row, type SearchResult } from "./relay/report.ts";
import { createTopology } from "./relay/topology.ts";
import { runTrial, type Trial } from "./relay/trial.ts";
import { IN, OUT, TTL, VARIANTS } from "./relay/variants.ts";

const repo = resolve(import.meta.dir, "..");
const { values: a } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    seconds: { type: "string", default: "5" },
    rates: { type: "string", default: "20k,50k,100k,150k,200k,250k,300k,max" },
    sizes: { type: "string", default: "64,1400" },
    only: { type: "string", default: "kernel,socat,mcrelay,mcrelay-v3" },
    workers: { type: "string", default: "1" },
    flows: { type: "string", default: "1" },
    repeat: { type: "string", default: "1" },
    search: { type: "boolean", default: false },
    "search-steps": { type: "string", default: "4" },
    "no-doc": { type: "boolean", default: false },
    "skip-setup": { type: "boolean", default: false },
    "trace-ratio": { type: "string", default: "0" },
    "no-latency": { type: "boolean", default: false },
    "sender-checksums": { type: "boolean", default: false },
  },
});

const opts = {
  seconds: Number(a.seconds),
  rates: a.rates!.split(",").map(parseRate),
  sizes: a.sizes!.split(",").map(Number),
  only: a.only!.split(","),
  workers: Number(a.workers),
  flows: Number(a.flows),
  repeat: Math.max(1, Number(a.repeat)),
  search: a.search!,
  searchSteps: Number(a["search-steps"]),
};
const variants = VARIANTS.filter((v) => opts.only.includes(v.name));
if (variants.length !== opts.only.length) throw new Error(`--only takes: ${VARIANTS.map((v) => v.name).join(",")}`);
if (process.getuid?.() !== 0) throw new Error("bench:relay needs root (network namespaces)");

const log = (s: string) => console.error(s);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    log(`\n${sig}: cleaning up`);
    cleanupAll();
    process.exit(130);
  });
}

if (!a["skip-setup"]) run(["bash", join(repo, "bench/setup.sh")]);
const t0 = Date.now();
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ")[0]!;
const loadStart = load();
const work = mkdtempSync(join(tmpdir(), "mcrb-"));
onCleanup(() => (process.env.MCRB_KEEP ? console.error(`kept ${work}`) : rmSync(work, { recursive: true, force: true })));

const trials: Trial[] = [];
const rows: Row[] = [];
const search: SearchResult[] = [];
const errors: Record<string, string> = {};
const label = (r: number | null) => (r === null ? "max" : `${r / 1000}k`);
/** Per payload size, the rate where every variant's latency is compared (half the kernel's loss-free rate). */
const latencyRates = new Map<number, number>();

try {
  const topo = createTopology({ senderChecksums: a["sender-checksums"]! });
  log(`topology: namespaces ${Object.values(topo.ns).join(", ")}`);
  for (const v of variants) {
    const dir = join(work, v.name);
    mkdirSync(dir);
    let relay;
    try {
      relay = await v.start(topo, dir, { workers: opts.workers, repo, traceRatio: Number(a["trace-ratio"]) });
    } catch (e) {
      errors[v.name] = (e as Error).message;
      log(`${v.name}: ${errors[v.name]}`);
      continue;
    }
    try {
      await runTrial(topo, v, relay, dir, opts.sizes[0]!, 1000, 1); // warm-up (route cache, JIT), not recorded
      const measure = async (size: number, r: number | null) => {
        const ts: Trial[] = [];
        for (let i = 0; i < opts.repeat; i++) ts.push(await runTrial(topo, v, relay, dir, size, r, opts.seconds, opts.flows));
        trials.push(...ts);
        const row = summarize(ts);
        log(`${v.name.padEnd(7)} ${String(size).padStart(4)} B ${label(r).padStart(5)}: offered ${row.offeredPps.toFixed(0)} pps, ` +
          `delivered ${row.deliveredPct.toFixed(2)} %, relay ${row.relayCpuUs?.toFixed(2) ?? "—"} µs/pkt, softirq ${row.softirqUs?.toFixed(2) ?? "—"} µs/pkt, ` +
          `latency p50/p99/p999 ${row.latency ? [row.latency.p50, row.latency.p99, row.latency.p999].map((x) => x.toFixed(3)).join("/") : "—"} ms`);
        return row;
      };
      for (const size of opts.sizes) {
        const mine: Row[] = [];
        for (const r of opts.rates) mine.push(await measure(size, r));
        rows.push(...mine);
        if (opts.search) {
          const s = await searchMaxLossFree(mine, opts.searchSteps, (r) => measure(size, r));
          search.push({ variant: v.name, size, ...s });
          log(`${v.name} ${size} B: highest loss-free ${s.maxLossFreePps.toFixed(0)} pps (lowest lossy ${s.lowestLossyPps?.toFixed(0) ?? "—"})`);
        }
        if (v.name === "kernel" && !a["no-latency"]) {
          const half = halfKernelRate(mine, search, size);
          if (half) latencyRates.set(size, half);
        }
        const lr = latencyRates.get(size);
        if (lr && !mine.some((r) => r.rate === lr)) rows.push(await measure(size, lr));
      }
    } catch (e) {
      errors[v.name] = (e as Error).message;
      log(`${v.name}: ${errors[v.name]}`);
    } finally {
      await relay.stop();
    }
  }
} finally {
  cleanupAll();
}

// --- report ---
const elapsed = (Date.now() - t0) / 1000;
const date = new Date();
const cmd = `bun run bench:relay${Bun.argv.length > 2 ? " " + Bun.argv.slice(2).join(" ") : ""}`;
const cpu = (readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "?").trim();
const meta = {
  command: cmd,
  date: date.toISOString(),
  kernel: run(["uname", "-r"]).trim(),
  cpu: `${cpu} × ${navigator.hardwareConcurrency}`,
  bun: Bun.version,
  iperf: run(["iperf", "-v"], { allowFail: true }).trim() || Bun.spawnSync(["iperf", "-v"]).stderr.toString().trim(),
  options: opts,
  loadAverage1m: { start: Number(loadStart), end: Number(load()) },
  elapsedSeconds: Math.round(elapsed),
};
/** Whether softirq time is measured (IRQ_TIME_ACCOUNTING) or sampled at the tick. */
function tickAccounting(): string {
  const cfg = run(["sh", "-c", `zcat /proc/config.gz 2>/dev/null || cat /boot/config-$(uname -r) 2>/dev/null`], { allowFail: true });
  if (/^CONFIG_IRQ_TIME_ACCOUNTING=y/m.test(cfg)) return "precise (CONFIG_IRQ_TIME_ACCOUNTING=y)";
  if (cfg) {
    return "tick-sampled (CONFIG_IRQ_TIME_ACCOUNTING off): softirq time is counted when a tick lands in it, and also " +
      "in the stime of the process it interrupted, so the relay CPU includes softirq work done in its context";
  }
  return "unknown (no kernel config found)";
}

const names = variants.map((v) => v.name);
const tables = markdownTables(rows, search, opts.sizes, names, latencyRates);
mkdirSync(join(repo, "bench/results"), { recursive: true });
const file = join(repo, `bench/results/relay-${date.toISOString().replace(/[:.]/g, "-")}.json`);
await Bun.write(file, JSON.stringify({ meta, errors, rows, search, trials }, null, 2) + "\n");

const failed = Object.entries(errors).map(([v, e]) => `- **${v}** did not run: ${e.split("\n")[0]}`).join("\n");
const section = `## Relay: mcrelay vs kernel multicast routing vs socat

\`${cmd}\` — ${date.toISOString().slice(0, 16).replace("T", " ")} UTC; Linux ${meta.kernel}; ${meta.cpu}; Bun ${meta.bun};
${meta.iperf.split(" (")[0]}; ${opts.seconds} s per rate; took ${Math.round(elapsed / 60)} min.${opts.repeat > 1 ? ` **Each figure is the median of ${opts.repeat} runs (per column).**` : ""}

Method:
- Three network namespaces, \`src —veth— relay —veth— dst\`. iperf 2 in \`src\` sends UDP${opts.flows > 1 ? ` in ${opts.flows} flows (one iperf client each, so one source port each; offered pps from the sender's UDP counters)` : ""} to ${IN.group}:${IN.port} with
  TTL ${TTL} from 198.18.1.1/24; the relay's input address (198.18.2.1/24) is in another subnet. The relay namespace
  has a route back to 198.18.1.0/24 in every variant: the kernel needs it for its RPF check (mcrelay does not).
- **kernel**: smcrouted with one route from the input veth to the output veth. It cannot rewrite the group, so the
  receiver listens on ${IN.group}. **socat**: \`UDP4-RECV\` joined on the input veth, 4 MiB receive buffer
  (mcrelay's AF_PACKET ring is 16 MiB), \`UDP4-SEND\` to ${OUT.group}:${OUT.port}. **mcrelay**:
  \`mcrelay start --workers ${opts.workers}\`, one rule ${IN.group}:${IN.port} → ${OUT.group}:${OUT.port}, defaults (a TPACKET_V2 ring,
  moderated by ingress as the rate asks). **mcrelay-v3**: the same with \`MCRELAY_TUNE_RING=v3\`, the block ring that was the
  default before (a TPACKET_V3 block at a time, full or after 1 ms). **mcrelay-ll**: \`--low-latency\` (busy-polling workers on
  one CPU). An iperf 2 server in \`dst\` receives.
- *Offered pps*: what the iperf client reports it sent. At *max* it sends as fast as it can while sharing the
  2 CPUs with the relay and the receiver, so this rate differs between variants.
- *Delivered*: datagrams that reached the UDP layer in \`dst\` (\`InDatagrams + RcvbufErrors + IgnoredMulti\`), so a slow
  receiver (or iperf's server ignoring all but one sender) does not count against the relay. *Delivered %* is delivered ÷ the UDP datagrams the sender's stack sent.
- *Relay CPU*: utime+stime of the relay's processes (socat; mcrelay's supervisor and all its descendants) per
  delivered packet. *softirq*: the whole machine's softirq time (\`/proc/stat\`) per delivered packet. For the
  kernel variant that is where forwarding happens, but it also holds the sender's and receiver's softirq work
  (and anything else the machine did), so read it as an upper bound. This kernel's CPU accounting is
  ${tickAccounting()}.
- The kernel forwards inside the sender's own transmit path (veth → softirq on the same CPU, per packet), so here
  it did not drop: it slows the sender down instead, and its loss-free rate is bounded by the sender's.
- The machine is a shared, noisy 2-core VM; other jobs may run during the bench (1-min load average
  ${meta.loadAverage1m.start} at the start, ${meta.loadAverage1m.end} at the end).${opts.repeat > 1 ? "" : " Use \`--repeat 3\` for medians."}
${opts.search ? `- Highest loss-free rate (< 0.1 % loss): bisection (${opts.searchSteps} steps) between the highest loss-free and the lowest lossy offered rate.\n` : ""}${failed ? `\n${failed}\n` : ""}
${tables}
Raw data: \`bench/results/${file.split("/").pop()}\`.
`;
if (!a["no-doc"]) updateDoc(join(repo, "docs/PERFORMANCE.md"), section);
console.log(tables);
for (const [v, e] of Object.entries(errors)) console.log(`${v} did not run: ${e}`);
console.log(`results: ${file}${a["no-doc"] ? "" : "; docs/PERFORMANCE.md updated"} (${Math.round(elapsed)} s)`);
