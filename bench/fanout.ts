// bun run bench:fanout — one input, N outputs: mcrelay (raw frames, and through UDP sockets) vs the
// kernel's multicast forwarding (smcroute, one VIF per output interface) vs socat (one process per
// output), side by side on one topology and sender: src —veth— relay —K veths— dst.
// N outputs go round-robin over K = min(N, 10) interfaces, one group per interface and round (the
// kernel cannot rewrite groups, so it runs only where N interfaces exist: N ≤ 10).
// Flags: --outputs 1,4,10,50 --sizes 64,1400 --seconds 3 --only kernel,socat,mcrelay,mcrelay-socket,mcrelay-gso
//        --out-rates 100k,200k,400k,600k,800k,1.2M (offered output pps; input = that / N) --search-steps 3
//        (bisection between the highest loss-free and the lowest lossy input rate) --workers 1 --flows 1
//        (the input as N flows, source ports 6000 + i, which PACKET_FANOUT_HASH spreads over pairs) --no-doc
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSection } from "./doc.ts";
import { startRelay, type Output, type RelayName, type Route } from "./fanout/relays.ts";
import { fanTopology } from "./fanout/topology.ts";
import { members, runTrial, type Trial } from "./fanout/trial.ts";
import { fanoutPlot } from "./fanout/plot.ts";
import { cleanupAll, run } from "./relay/proc.ts";
import { LOSS_FREE_PCT, parseRate, searchMaxLossFree } from "./relay/report.ts";

const repo = resolve(import.meta.dir, "..");
const { values: a } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    outputs: { type: "string", default: "1,4,10,50" },
    sizes: { type: "string", default: "64,1400" },
    seconds: { type: "string", default: "3" },
    only: { type: "string", default: "kernel,socat,mcrelay,mcrelay-socket,mcrelay-gso" },
    "out-rates": { type: "string", default: "100k,200k,400k,600k,800k,1.2M" },
    workers: { type: "string", default: "1" },
    "search-steps": { type: "string", default: "3" },
    flows: { type: "string", default: "1" },
    "no-doc": { type: "boolean", default: false },
  },
});
const NS = a.outputs!.split(",").map(Number);
const SIZES = a.sizes!.split(",").map(Number);
const SECONDS = Number(a.seconds);
const RELAYS = a.only!.split(",") as RelayName[];
const OUT_RATES = a["out-rates"]!.split(",").map((r) => parseRate(r)!);
const WORKERS = Number(a.workers);
const SEARCH_STEPS = Number(a["search-steps"]);
const FLOWS = Number(a.flows);
/** The sender tops out near 250k pps per core: input rates above this are covered by "max". */
const SENDER_CEILING = 300_000;
const MAX_IFS = 10;
const IN = { group: "239.1.1.1", port: 5001 };
const TTL = 8;
if (process.getuid?.() !== 0) throw new Error("bench:fanout needs root (network namespaces)");

const log = (s: string) => console.error(s);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => (cleanupAll(), process.exit(130)));
run(["bash", join(repo, "bench/setup.sh")]);
const t0 = Date.now();
const work = mkdtempSync(join(tmpdir(), "mcrf-"));
const trials: Trial[] = [];
const errors: string[] = [];
const k = (p: number) => (p >= 1e6 ? `${(p / 1e6).toFixed(2)}M` : `${Math.round(p / 1000)}k`);

try {
  const topo = fanTopology(Math.min(MAX_IFS, Math.max(...NS)));
  for (const n of NS) {
    const kIfs = Math.min(n, MAX_IFS);
    const outs = (group: (round: number) => string): Output[] =>
      Array.from({ length: n }, (_, i) => ({ ifname: topo.outs[i % kIfs]!.ifname, addr: topo.outs[i % kIfs]!.addr, group: group(Math.floor(i / kIfs)), port: 5002 }));
    const rates = [...new Set(OUT_RATES.map((r) => Math.round(r / n)).filter((r) => r <= SENDER_CEILING))];
    for (const name of RELAYS) {
      if (name === "kernel" && n > MAX_IFS) continue; // one VIF per output: it has only MAX_IFS interfaces here
      const outputs = name === "kernel" ? outs(() => IN.group) : outs((round) => `239.2.${round}.2`);
      const route: Route = { ns: topo.rly.name, pidInNs: topo.rly.pid, input: { ifname: topo.input, ...IN }, outputs, ttl: TTL };
      const dir = join(work, `${name}-${n}`);
      mkdirSync(dir);
      // Every output's peer joins its group: each copy that arrives is counted there (bench/fanout/members.ts).
      const peerOf = new Map(topo.outs.map((o) => [o.ifname, o.peer]));
      const held = await members(topo.dst.name, repo, outputs.map((o) => `${peerOf.get(o.ifname)}:${o.group}`), join(dir, "members.log"));
      let relay;
      try {
        relay = await startRelay(name, route, dir, { repo, workers: WORKERS });
      } catch (e) {
        errors.push(`${name} at N=${n}: ${(e as Error).message.split("\n")[0]}`);
        log(errors.at(-1)!);
        await held.stop();
        continue;
      }
      try {
        const spec = { relay: name, n, src: { ns: topo.src.name, pid: topo.src.pid, addr: topo.srcAddr }, dstPid: topo.dst.pid, ...IN, ttl: TTL, log: join(dir, "iperf.log"), flows: FLOWS };
        await runTrial({ ...spec, size: 64, rate: 1000, seconds: 1 }, relay); // warm-up, not recorded
        for (const size of SIZES) {
          const trial = async (rate: number | null) => {
            const t = await runTrial({ ...spec, size, rate, seconds: SECONDS }, relay);
            trials.push(t);
            log(`N=${String(n).padStart(2)} ${name.padEnd(14)} ${String(size).padStart(4)} B in ${rate === null ? "max" : k(rate)}: offered out ${k(t.offeredOutPps)} pps, ` +
              `delivered ${k(t.deliveredPps)} (${t.deliveredPct.toFixed(2)} %), relay ${t.relayCpuUs?.toFixed(2) ?? "—"} µs/copy, softirq ${t.softirqUs?.toFixed(2) ?? "—"} µs/copy`);
            return t;
          };
          const grid: Trial[] = [];
          for (const rate of [...rates, null]) grid.push(await trial(rate));
          // The grid's steps double: between its highest loss-free and lowest lossy rate, bisect.
          await searchMaxLossFree(grid, SEARCH_STEPS, (rate) => trial(rate));
        }
      } catch (e) {
        errors.push(`${name} at N=${n}: ${(e as Error).message.split("\n")[0]}`);
        log(errors.at(-1)!);
      } finally {
        await relay.stop();
        await held.stop();
      }
    }
  }
} finally {
  cleanupAll();
  rmSync(work, { recursive: true, force: true });
}

// --- report ---
const lossFree = (t: Trial) => t.deliveredPct >= LOSS_FREE_PCT;
/** The highest delivered output rate among loss-free trials. */
const best = (relay: string, n: number, size: number) =>
  Math.max(0, ...trials.filter((t) => t.relay === relay && t.n === n && t.size === size && lossFree(t)).map((t) => t.deliveredPps));
const date = new Date();
const cmd = `bun run bench:fanout${Bun.argv.length > 2 ? " " + Bun.argv.slice(2).join(" ") : ""}`;
const cpu = (readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "?").trim();
const tables: string[] = [];
tables.push("**Highest loss-free output rate** (delivered copies per second with < 0.1 % loss; ratio to the kernel)", "");
tables.push(`| N | payload | ${RELAYS.join(" | ")} |`, `|--:|--:|${RELAYS.map(() => "--:").join("|")}|`);
for (const n of NS) {
  for (const size of SIZES) {
    const kb = best("kernel", n, size);
    const cells = RELAYS.map((r) => {
      if (!trials.some((t) => t.relay === r && t.n === n && t.size === size)) return "—";
      const b = best(r, n, size);
      return r !== "kernel" && kb > 0 ? `${k(b)} (${(b / kb).toFixed(2)}×)` : k(b);
    });
    tables.push(`| ${n} | ${size} B | ${cells.join(" | ")} |`);
  }
}
tables.push("", "**Every trial**: offered input pps → delivered copies (% of input × N); CPU per delivered copy, µs (relay processes; the kernel: the machine's softirq)", "");
for (const n of NS) {
  for (const size of SIZES) {
    tables.push(`N = ${n}, ${size} B`, "", `| input requested | ${RELAYS.join(" | ")} |`, `|--:|${RELAYS.map(() => "---").join("|")}|`);
    const reqs = [...new Set(trials.filter((t) => t.n === n && t.size === size).map((t) => t.rate))].sort((x, y) => (x ?? Infinity) - (y ?? Infinity));
    for (const req of reqs) {
      const cells = RELAYS.map((r) => {
        const t = trials.find((x) => x.relay === r && x.n === n && x.size === size && x.rate === req);
        if (!t) return "—";
        const c = t.relayCpuUs ?? t.softirqUs;
        return `${k(t.offeredPps)} → ${k(t.deliveredPps)} (${t.deliveredPct.toFixed(1)} %), ${c?.toFixed(2) ?? "—"} µs`;
      });
      tables.push(`| ${req === null ? "max" : k(req)} | ${cells.join(" | ")} |`);
    }
    tables.push("");
  }
}
mkdirSync(join(repo, "bench/results"), { recursive: true });
const stamp = date.toISOString().replace(/[:.]/g, "-");
const file = join(repo, `bench/results/fanout-${stamp}.json`);
const meta = { command: cmd, date: date.toISOString(), kernel: run(["uname", "-r"]).trim(), cpu: `${cpu} × ${navigator.hardwareConcurrency}`, bun: Bun.version,
  elapsedSeconds: Math.round((Date.now() - t0) / 1000) };
writeFileSync(file, JSON.stringify({ meta, errors, trials }, null, 2) + "\n");
const plot = join(repo, "docs/fanout-plot.svg");
if (!a["no-doc"]) writeFileSync(plot, fanoutPlot(trials, NS, RELAYS)); // the plot belongs to the docs' section
const body = `\`${cmd}\` — ${meta.date.slice(0, 16).replace("T", " ")} UTC; Linux ${meta.kernel}; ${meta.cpu}; Bun ${meta.bun}; ${SECONDS} s per trial; took ${Math.round(meta.elapsedSeconds / 60)} min.

Method: \`src —veth— relay —K veths— dst\`, K = min(N, ${MAX_IFS}); N outputs round-robin over the K interfaces. iperf 2 in
\`src\` sends ${IN.group}:${IN.port}${FLOWS > 1 ? " as " + FLOWS + " flows (one iperf each, source ports 6000 and up)" : ""} at input rates of (offered output rate) / N, and as fast as it can (*max*), then per relay
${SEARCH_STEPS} bisection steps between its highest loss-free and lowest lossy input rate (rows of their own). In \`dst\` each output's
group is joined on its interface and nothing is bound to the port, so every copy that arrives is counted by UDP
(\`InDatagrams + RcvbufErrors + IgnoredMulti\`) at the least receive cost, the same for every relay. *Delivered %* is
delivered ÷ (datagrams sent × N). **kernel**: smcrouted, one route to N VIFs (it forwards the group as is; it cannot run N = 50
outputs on ${MAX_IFS} interfaces). **socat**: N processes, each joined to the input and sending to one output. **mcrelay**: one rule,
N outputs, \`--workers ${WORKERS}\`, \`send: "raw"\` (frames built from a per-output header and sent on a packet socket of the
interface, payload gathered from the slot); **mcrelay-socket**: the same rule with \`send: "socket"\` (a UDP socket per output);
**mcrelay-gso**: the raw rule with \`gso: true\` (a turn's datagrams to an output sent as UDP GSO super-frames), the output veths'
tx checksum offload off while it runs, so the kernel cuts the super-frames in the relay's send (as for a NIC without UDP
segmentation offload) and the receivers count datagrams.
CPU: the relay's processes' utime+stime per delivered copy; for the kernel the machine's softirq time per copy (an upper
bound: it includes the sender's and receiver's). A noisy 2-core VM: sender, relay and receiver share both cores.
${errors.length ? `\nDid not run: ${errors.map((e) => `\n- ${e}`).join("")}\n` : ""}
![delivered vs offered output pps](fanout-plot.svg)

${tables.join("\n")}
Raw data: \`bench/results/${file.split("/").pop()}\`.`;
if (!a["no-doc"]) writeSection("fanout", "## Fan-out: 1:N, mcrelay vs the kernel vs socat", body);
console.log(tables.join("\n"));
console.log(`results: ${file}${a["no-doc"] ? "" : `; plot: ${plot}; docs/PERFORMANCE.md updated`}`);
