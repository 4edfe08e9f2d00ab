// bun run bench:pipeline — the seeds' headline experiment: src → relay → relay → relay → dst, one
// relay per namespace, the kernel (smcroute on every hop) vs mcrelay (one per hop, raw, socket or
// gso sends), same sender, same rates. What decides it is CPU per packet per hop.
// Flags: --hops 3 --sizes 1400,64 --rates 50k,100k,150k,200k,max --seconds 3 --only kernel,mcrelay,mcrelay-socket,mcrelay-gso --no-doc
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSection } from "./doc.ts";
import { startRelay, type RelayName, type Running } from "./fanout/relays.ts";
import { pipeTopology } from "./fanout/topology.ts";
import { members, runTrial, type Trial } from "./fanout/trial.ts";
import { cleanupAll, run } from "./relay/proc.ts";
import { LOSS_FREE_PCT, parseRate } from "./relay/report.ts";

const repo = resolve(import.meta.dir, "..");
const { values: a } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    hops: { type: "string", default: "3" },
    sizes: { type: "string", default: "1400,64" },
    rates: { type: "string", default: "50k,100k,150k,200k,max" },
    seconds: { type: "string", default: "3" },
    only: { type: "string", default: "kernel,mcrelay,mcrelay-socket,mcrelay-gso" },
    "no-doc": { type: "boolean", default: false },
  },
});
const HOPS = Number(a.hops);
const SIZES = a.sizes!.split(",").map(Number);
const RATES = a.rates!.split(",").map(parseRate);
const SECONDS = Number(a.seconds);
const RELAYS = a.only!.split(",") as RelayName[];
const G = { group: "239.1.1.1", port: 5001 };
/** Enough for the kernel's decrement at every hop (mcrelay sets it on each output). */
const TTL = 8;
if (process.getuid?.() !== 0) throw new Error("bench:pipeline needs root (network namespaces)");

const log = (s: string) => console.error(s);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => (cleanupAll(), process.exit(130)));
run(["bash", join(repo, "bench/setup.sh")]);
const t0 = Date.now();
const work = mkdtempSync(join(tmpdir(), "mcrp-"));
const trials: Trial[] = [];
const errors: string[] = [];
const k = (p: number) => `${Math.round(p / 1000)}k`;

try {
  const topo = pipeTopology(HOPS);
  const held = await members(topo.dst.name, repo, [`${topo.dstIf}:${G.group}`], join(work, "members.log"));
  for (const name of RELAYS) {
    const dir = join(work, name);
    mkdirSync(dir);
    const hops: Running[] = [];
    try {
      for (let h = 0; h < HOPS; h++) {
        const hd = join(dir, `hop${h + 1}`);
        mkdirSync(hd);
        const i = topo.ifs[h]!;
        hops.push(await startRelay(name, { ns: topo.hops[h]!.name, pidInNs: topo.hops[h]!.pid, input: { ifname: i.input, ...G },
          outputs: [{ ifname: i.output, addr: i.addr, ...G }], ttl: TTL }, hd, { repo, workers: 1 }));
      }
      const all: Running = { cpuTicks: () => hops.reduce((s, r) => s + r.cpuTicks(), 0), stop: async () => {} };
      const spec = { relay: name, n: 1, src: { ns: topo.src.name, pid: topo.src.pid, addr: topo.srcAddr }, dstPid: topo.dst.pid, ...G, ttl: TTL, log: join(dir, "iperf.log") };
      await runTrial({ ...spec, size: 64, rate: 1000, seconds: 1 }, all); // warm-up
      for (const size of SIZES) {
        // Warm-up at this size and a moderate rate, not measured: the relays' first second at a
        // rate (JIT compilation of the paths it takes) once cost the first trial 1–3 %.
        await runTrial({ ...spec, size, rate: 20_000, seconds: 1 }, all);
        for (const rate of RATES) {
          const t = await runTrial({ ...spec, size, rate, seconds: SECONDS }, all);
          trials.push(t);
          log(`${name.padEnd(14)} ${String(size).padStart(4)} B ${rate === null ? "max" : k(rate)}: offered ${k(t.offeredPps)}, delivered ${t.deliveredPct.toFixed(2)} %, ` +
            `CPU ${(t.relayCpuUs ?? t.softirqUs)?.toFixed(2) ?? "—"} µs/pkt (all hops)`);
        }
      }
    } catch (e) {
      errors.push(`${name}: ${(e as Error).message.split("\n")[0]}`);
      log(errors.at(-1)!);
    } finally {
      for (const r of hops) await r.stop();
    }
  }
  await held.stop();
} finally {
  cleanupAll();
  rmSync(work, { recursive: true, force: true });
}

const date = new Date();
const cmd = `bun run bench:pipeline${Bun.argv.length > 2 ? " " + Bun.argv.slice(2).join(" ") : ""}`;
const cpu = (readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "?").trim();
const rows: string[] = [`| payload | requested | ${RELAYS.join(" | ")} |`, `|--:|--:|${RELAYS.map(() => "---").join("|")}|`];
for (const size of SIZES) {
  for (const rate of RATES) {
    const cells = RELAYS.map((r) => {
      const t = trials.find((x) => x.relay === r && x.size === size && x.rate === rate);
      if (!t) return "—";
      const c = t.relayCpuUs ?? t.softirqUs;
      return `${k(t.offeredPps)} → ${t.deliveredPct.toFixed(2)} %${t.deliveredPct >= LOSS_FREE_PCT ? "" : " **lossy**"}, ${c?.toFixed(2) ?? "—"} µs`;
    });
    rows.push(`| ${size} B | ${rate === null ? "max" : k(rate)} | ${cells.join(" | ")} |`);
  }
}
mkdirSync(join(repo, "bench/results"), { recursive: true });
const file = join(repo, `bench/results/pipeline-${date.toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(file, JSON.stringify({ meta: { command: cmd, date: date.toISOString(), cpu, elapsedSeconds: Math.round((Date.now() - t0) / 1000) }, errors, trials }, null, 2) + "\n");
const body = `\`${cmd}\` — ${date.toISOString().slice(0, 16).replace("T", " ")} UTC; ${cpu} × ${navigator.hardwareConcurrency}; ${SECONDS} s per trial.

Method: \`src → r1 → … → r${HOPS} → dst\`, each relay in its own namespace (its input and output interfaces in different
subnets, a route back to the source for the kernel's RPF check). The same group ${G.group}:${G.port} end to end. **kernel**:
smcrouted on every hop; **mcrelay**: \`mcrelay start --workers 1 --no-api\` on every hop, one rule, \`send: "raw"\`;
**mcrelay-socket**: the same with \`send: "socket"\`; **mcrelay-gso**: the raw rule with \`gso: true\`, each hop's output veth's tx
checksum offload off, so the kernel cuts the super-frames in that hop's send and the next hop reads datagrams. Cells: offered input pps → delivered % at \`dst\` (UDP counters, nothing
bound), and CPU per delivered packet summed over the hops (mcrelay: its processes; kernel: the machine's softirq,
sender and receiver included).
${errors.length ? `\nDid not run: ${errors.map((e) => `\n- ${e}`).join("")}\n` : ""}
${rows.join("\n")}

Raw data: \`bench/results/${file.split("/").pop()}\`.`;
if (!a["no-doc"]) writeSection("pipeline", `## ${HOPS}-hop pipeline: mcrelay vs the kernel`, body);
console.log(rows.join("\n"));
console.log(`results: ${file}`);
