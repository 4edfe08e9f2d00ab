// bench:api — latency and throughput of the REST API under concurrent load, measured with wrk:
// GET /api/v1/rules with 100 rules stored, and POST /api/v1/rules (each request a new rule,
// stored and applied). The relay, its API and wrk run in a throw-away network namespace.
// Usage: bun bench/api.ts [--seconds S] [--connections C] [--no-doc]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Lab } from "../lab/netns.ts";
import { BUN, ROOT, collect } from "../lab/procs.ts";
import { writeSection } from "./doc.ts";

const { values: v } = parseArgs({
  options: { seconds: { type: "string", default: "10" }, connections: { type: "string", default: "32" }, "no-doc": { type: "boolean" }, inside: { type: "boolean" } },
});
const TOKEN = "bench-api-token-0123456789abcdef";
const PORT = 18080;

interface Run { requestsPerSecond: number; p50ms: number; p99ms: number; requests: number; errors: number }

/** Parses wrk's --latency report. */
function parseWrk(out: string): Run {
  const ms = (s: string) => {
    const m = /([\d.]+)(us|ms|s)/.exec(s)!;
    return Number(m[1]) * (m[2] === "us" ? 1e-3 : m[2] === "s" ? 1e3 : 1);
  };
  const line = (re: RegExp) => re.exec(out)?.[1] ?? "";
  return {
    requestsPerSecond: Number(line(/Requests\/sec:\s+([\d.]+)/)),
    p50ms: ms(line(/\s50%\s+(\S+)/)),
    p99ms: ms(line(/\s99%\s+(\S+)/)),
    requests: Number(line(/(\d+) requests in/)),
    errors: Number(line(/Non-2xx or 3xx responses: (\d+)/) || 0),
  };
}

function wrk(args: string[]): Run {
  const r = Bun.spawnSync(["wrk", "--latency", "-t", "2", "-c", v.connections!, "-d", `${v.seconds}s`, ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`wrk failed: ${r.stderr.toString()}`);
  return parseWrk(r.stdout.toString());
}

if (v.inside) {
  // In the namespace: seed 100 rules, then load.
  const base = `http://127.0.0.1:${PORT}`;
  const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${base}/api/v1/rules`, { method: "POST", headers: auth,
      body: JSON.stringify({ input: { interface: "seed0", group: `239.9.${i >> 8}.${i & 255}`, port: 5000 }, outputs: [{ interface: "seed1", group: "239.255.9.9", port: 6000 }] }) });
    if (res.status !== 201) throw new Error(`seeding rule ${i}: ${res.status} ${await res.text()}`);
  }
  const get = wrk(["-H", `Authorization: Bearer ${TOKEN}`, `${base}/api/v1/rules`]);
  const post = wrk(["-s", join(import.meta.dir, "api-post.lua"), `${base}/api/v1/rules`, "--", TOKEN]);
  console.log(JSON.stringify({ get, post }));
  process.exit(0);
}

if (!Bun.which("wrk")) throw new Error("wrk is missing: run bench/setup.sh (it installs Debian's wrk)");
const lab = Lab.create("bapi");
const state = mkdtempSync(join(tmpdir(), "mcrelay-bench-api-"));
try {
  const ns = lab.ns("api");
  writeFileSync(join(state, "rules.json"), '{"rules":[]}');
  const relay = lab.spawn(ns, [BUN, "bin/mcrelay.ts", "start", "--config", join(state, "rules.json"), "--state-dir", state, "--workers", "1",
    "--api-listen", `127.0.0.1:${PORT}`], { cwd: ROOT, env: { MCRELAY_API_TOKEN: TOKEN, MCRELAY_LOG_LEVEL: "warn" } });
  const logs = collect(relay.stdout);
  collect(relay.stderr);
  const deadline = Date.now() + 20_000;
  while (lab.sh(ns, ["curl", "-sf", `http://127.0.0.1:${PORT}/healthz`]).code !== 0) {
    if (Date.now() > deadline) throw new Error(`relay API not ready:\n${logs.text()}`);
    await Bun.sleep(100);
  }
  const inside = lab.sh(ns, [BUN, join(import.meta.dir, "api.ts"), "--inside", "--seconds", v.seconds!, "--connections", v.connections!]);
  if (inside.code !== 0) throw new Error(inside.stderr);
  const res = JSON.parse(inside.stdout.trim().split("\n").pop()!) as { get: Run; post: Run };
  relay.kill("SIGTERM");
  await relay.exited;
  const date = new Date().toISOString();
  const file = join(import.meta.dir, "results", `api-${date.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify({ date, seconds: Number(v.seconds), connections: Number(v.connections), ...res }, null, 2) + "\n");
  const row = (name: string, r: Run) => `| ${name} | ${r.requestsPerSecond.toFixed(0)} | ${r.p50ms.toFixed(2)} | ${r.p99ms.toFixed(2)} | ${r.requests} | ${r.errors} |`;
  const table = [
    `\`bun run bench:api\` — ${date.slice(0, 16).replace("T", " ")} UTC; wrk, 2 threads, ${v.connections} connections, ${v.seconds} s each; relay, API (SQLite) and wrk share this 2-core machine.`,
    "",
    "| request | requests/s | p50 ms | p99 ms | requests | non-2xx |",
    "|---|--:|--:|--:|--:|--:|",
    row("GET /api/v1/rules (100 rules)", res.get),
    row("POST /api/v1/rules (new rule each, stored and applied)", res.post),
    "",
    `Raw data: \`${file.slice(ROOT.length + 1)}\`. POSTs are answered once the rule is applied; concurrent`,
    "changes share one apply (the API coalesces them), which is what bounds their rate.",
  ].join("\n");
  console.log(table);
  if (!v["no-doc"]) writeSection("api", "## REST API under load", table);
} finally {
  lab.destroy();
  rmSync(state, { recursive: true, force: true });
}
