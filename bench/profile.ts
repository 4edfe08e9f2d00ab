// bench:profile — where each microsecond per relayed packet goes. mcrelay on the bench:relay topology
// at a fixed rate, `perf record -a` (cpu-clock, every CPU) over the middle of the trial; samples are
// split by process (ingress, egress, sender, receiver, idle…) and, inside the relay's processes, by
// where the code lives (JavaScript JIT, Bun runtime, mcrelay's C, libc, kernel by subsystem).
// Usage: bun run bench:profile [--rate 200k] [--size 1400] [--seconds 8] [--freq 1999] [--no-doc]
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSection } from "./doc.ts";
import { cleanupAll, onCleanup, run, start, stop } from "./relay/proc.ts";
import { createTopology } from "./relay/topology.ts";
import { parseRate } from "./relay/report.ts";
import { runTrial } from "./relay/trial.ts";
import { VARIANTS } from "./relay/variants.ts";
import { kernelStage, tabulate, type Sample } from "./profile/classify.ts";

const { values: a } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    rate: { type: "string", default: "200k" },
    size: { type: "string", default: "1400" },
    seconds: { type: "string", default: "8" },
    freq: { type: "string", default: "1999" },
    workers: { type: "string", default: "1" },
    variant: { type: "string", default: "mcrelay" },
    "no-doc": { type: "boolean", default: false },
  },
});
const rate = parseRate(a.rate!);
if (rate === null) throw new Error("--rate must be a number of pps (a profile needs a steady rate), not max");
const size = Number(a.size);
const seconds = Number(a.seconds);
const freq = Number(a.freq);
if (process.getuid?.() !== 0) throw new Error("bench:profile needs root (network namespaces, perf -a)");
if (!Bun.which("perf")) throw new Error("perf is missing: apt-get install linux-perf (bench/setup.sh does)");

const repo = resolve(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "mcrb-prof-"));
onCleanup(() => rmSync(work, { recursive: true, force: true }));
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => (cleanupAll(), rmSync(perfData, { force: true }), process.exit(130)));

const variant = VARIANTS.find((v) => v.name === a.variant);
if (!variant) throw new Error(`--variant takes: ${VARIANTS.map((v) => v.name).join(", ")}`);
const perfData = join(tmpdir(), `mcrb-perf-${process.pid}.data`); // outlives the work dir, removed below
let trial;
const roles = new Map<number, string>();
try {
  const t = createTopology();
  const relay = await variant.start(t, work, { workers: Number(a.workers), repo });
  roles.set(process.pid, "bench harness");
  try {
    if (variant.name.startsWith("mcrelay")) {
      const status = JSON.parse(readFileSync(join(work, "state/status.json"), "utf8"));
      roles.set(status.pid, "supervisor");
      for (const w of status.workers) roles.set(w.pid, `${w.role}${status.workers.length > 2 ? ` ${w.index}` : ""}`);
      if (status.api) roles.set(status.api.pid, "api");
    }
    await runTrial(t, variant, relay, work, size, 1000, 1); // warm-up
    const window = Math.max(1, seconds - 3);
    const pending = runTrial(t, variant, relay, work, size, rate, seconds);
    await Bun.sleep(1500); // past the sender's start
    const perf = start(["perf", "record", "-q", "-a", "-e", "cpu-clock", "-F", String(freq), "-o", perfData, "--", "sleep", String(window)]);
    for (const [pid, argv] of processes()) {
      if (roles.has(pid)) continue;
      if (argv[0] === "iperf") roles.set(pid, argv.includes("-c") ? "iperf sender (src)" : "iperf receiver (dst)");
      else if (/bun(\.exe)?$/.test(argv[0]!)) roles.set(pid, `other (bun ${argv.slice(1, 3).map((x) => x.split("/").pop()).join(" ")})`);
    }
    await perf.exited;
    trial = { ...(await pending), window };
  } finally {
    await relay.stop();
  }
} finally {
  cleanupAll();
}

/** Every process's argv, to name the samples of the bench's own processes. */
function processes(): [number, string[]][] {
  const out: [number, string[]][] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      out.push([Number(d), readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0")]);
    } catch {} // gone
  }
  return out;
}

// One line per sample: "comm pid ip symbol (dso)".
const script = run(["perf", "script", "-i", perfData, "-F", "comm,pid,ip,sym,dso"], { allowFail: true });
rmSync(perfData, { force: true });
const samples: Sample[] = [];
for (const line of script.split("\n")) {
  const m = /^\s*(.+?)\s+(\d+)\s+[0-9a-f]+\s+(.*?)\s*\((.*)\)\s*$/.exec(line);
  if (!m) continue;
  const [, comm, pid, sym, dso] = m;
  samples.push({ pid: Number(pid), comm: comm!, sym: sym!, dso: dso! });
}
const packets = trial!.deliveredPps * trial!.window;
const usPerSample = 1e6 / freq;
const table = tabulate(samples, roles, kernelStage, usPerSample / packets);

const body = `\`bun run bench:profile --rate ${a.rate} --size ${size}\` — ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC;
${variant.name.startsWith("mcrelay") ? `${variant.name} \`--workers ${a.workers}\`` : variant.name}, ${size} B payloads at ${(rate / 1000).toFixed(0)}k pps requested (offered ${(trial!.offeredPps / 1000).toFixed(1)}k, delivered
${trial!.deliveredPct.toFixed(2)} %). \`perf record -a -e cpu-clock -F ${freq}\` for ${trial!.window} s in the middle of the trial: ${samples.length.toLocaleString()} samples
on 2 CPUs. Each figure is CPU time per delivered packet (µs): samples × ${usPerSample.toFixed(0)} µs ÷ packets delivered in the window.
Kernel time is attributed to the process that was running, so softirq work (veth delivery, the receiver's UDP
input) appears under whoever triggered it: the sender for the relay's input, the egress for its output.

${table}`;
console.log(body);
if (!a["no-doc"]) writeSection(`profile-${variant.name}-${size}`, `### ${variant.name}, ${size} B at ${(rate / 1000).toFixed(0)}k pps`, body);
