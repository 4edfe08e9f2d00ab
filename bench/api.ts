// bench:api — the REST API under concurrent load, measured with wrk (50 connections by default):
// GET /api/v1/stats, GET /metrics and GET /api/v1/rules with 1,000 and with 5,000 rules stored,
// and POST /api/v1/rules (each request a new rule, stored and applied before the answer). The
// relay, its API and wrk run in a throw-away network namespace.
// Usage: bun bench/api.ts [--seconds S] [--connections C] [--rules 1000,5000] [--no-doc]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Lab } from "../lab/netns.ts";
import { BUN, ROOT, collect } from "../lab/procs.ts";
import { writeSection } from "./doc.ts";

const { values: v } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" }, connections: { type: "string", default: "50" }, rules: { type: "string", default: "1000,5000" },
    "no-doc": { type: "boolean" }, inside: { type: "boolean" },
  },
});
const TOKEN = "bench-api-token-0123456789abcdef";
const PORT = 18080;

interface Run { requestsPerSecond: number; p50ms: number; p99ms: number; maxms: number; requests: number; errors: number }

/** Parses wrk's --latency report. */
function parseWrk(out: string): Run {
  const ms = (s: string) => {
    const m = /([\d.]+)(us|ms|s)/.exec(s);
    return m ? Number(m[1]) * (m[2] === "us" ? 1e-3 : m[2] === "s" ? 1e3 : 1) : NaN;
  };
  const line = (re: RegExp) => re.exec(out)?.[1] ?? "";
  return {
    requestsPerSecond: Number(line(/Requests\/sec:\s+([\d.]+)/)),
    p50ms: ms(line(/\s50%\s+(\S+)/)),
    p99ms: ms(line(/\s99%\s+(\S+)/)),
    maxms: ms(line(/Latency\s+\S+\s+\S+\s+(\S+)/)),
    requests: Number(line(/(\d+) requests in/)),
    errors: Number(line(/Non-2xx or 3xx responses: (\d+)/) || 0) + Number(line(/Socket errors: .*?timeout (\d+)/) || 0),
  };
}

function wrk(args: string[]): Run {
  const r = Bun.spawnSync(["wrk", "--latency", "-t", "2", "-c", v.connections!, "-d", `${v.seconds}s`, "--timeout", "10s", ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`wrk failed: ${r.stderr.toString()}`);
  return parseWrk(r.stdout.toString());
}

if (v.inside) {
  const base = `http://127.0.0.1:${PORT}`;
  const auth = ["-H", `Authorization: Bearer ${TOKEN}`];
  const out = {
    stats: wrk([...auth, `${base}/api/v1/stats`]),
    metrics: wrk([...auth, `${base}/metrics`]),
    rules: wrk([...auth, `${base}/api/v1/rules`]),
    post: wrk(["-s", join(import.meta.dir, "api-post.lua"), `${base}/api/v1/rules`, "--", TOKEN]),
  };
  console.log(JSON.stringify(out));
  process.exit(0);
}

if (!Bun.which("wrk")) throw new Error("wrk is missing: run bench/setup.sh (it installs Debian's wrk)");
type Result = { rules: number; stats: Run; metrics: Run; rules_: Run; post: Run };
const results: Result[] = [];
for (const n of v.rules!.split(",").map(Number)) {
  const lab = Lab.create("bapi");
  const state = mkdtempSync(join(tmpdir(), "mcrelay-bench-api-"));
  try {
    const ns = lab.ns("api");
    // Rules on interfaces that do not exist: they wait, and every one is still read at each request.
    const rules = Array.from({ length: n }, (_, i) => ({ id: `seed${i}`, input: { interface: "seed0", group: `239.9.${i >> 8}.${i & 255}`, port: 5000 },
      outputs: [{ interface: "seed1", group: "239.255.9.9", port: 6000 + (i % 1000) }] }));
    writeFileSync(join(state, "rules.json"), JSON.stringify({ rules }));
    const relay = lab.spawn(ns, [BUN, "bin/mcrelay.ts", "start", "--config", join(state, "rules.json"), "--state-dir", state, "--workers", "1",
      "--api-listen", `127.0.0.1:${PORT}`], { cwd: ROOT, env: { MCRELAY_API_TOKEN: TOKEN, MCRELAY_LOG_LEVEL: "warn" } });
    const logs = collect(relay.stdout);
    collect(relay.stderr);
    const deadline = Date.now() + 60_000;
    while (lab.sh(ns, ["curl", "-sf", `http://127.0.0.1:${PORT}/healthz`]).code !== 0) {
      if (Date.now() > deadline) throw new Error(`relay API not ready:\n${logs.text()}`);
      await Bun.sleep(100);
    }
    const inside = lab.sh(ns, [BUN, join(import.meta.dir, "api.ts"), "--inside", "--seconds", v.seconds!, "--connections", v.connections!]);
    if (inside.code !== 0) throw new Error(inside.stderr);
    const res = JSON.parse(inside.stdout.trim().split("\n").pop()!);
    results.push({ rules: n, stats: res.stats, metrics: res.metrics, rules_: res.rules, post: res.post });
    relay.kill("SIGTERM");
    await relay.exited;
  } finally {
    lab.destroy();
    rmSync(state, { recursive: true, force: true });
  }
}
const date = new Date().toISOString();
const file = join(import.meta.dir, "results", `api-${date.replace(/[:.]/g, "-")}.json`);
writeFileSync(file, JSON.stringify({ date, seconds: Number(v.seconds), connections: Number(v.connections), results }, null, 2) + "\n");
const f = (x: number) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 0) : "—");
const row = (name: string, r: Run) => `| ${name} | ${r.requestsPerSecond.toFixed(0)} | ${f(r.p50ms)} | ${f(r.p99ms)} | ${f(r.maxms)} | ${r.requests} | ${r.errors} |`;
const table = [
  `\`bun run bench:api\` — ${date.slice(0, 16).replace("T", " ")} UTC; wrk, 2 threads, ${v.connections} connections, ${v.seconds} s per row; relay, API (SQLite) and wrk share this 2-core machine.`,
  "",
  "| request | requests/s | p50 ms | p99 ms | max ms | requests | errors |",
  "|---|--:|--:|--:|--:|--:|--:|",
  ...results.flatMap((r) => [
    row(`GET /api/v1/stats (${r.rules} rules)`, r.stats),
    row(`GET /metrics (${r.rules} rules)`, r.metrics),
    row(`GET /api/v1/rules (${r.rules} rules)`, r.rules_),
    row(`POST /api/v1/rules (${r.rules} stored; each stored and applied)`, r.post),
  ]),
  "",
  `Raw data: \`${file.slice(ROOT.length + 1)}\`. Errors: non-2xx answers and timeouts. /api/v1/stats and /metrics`,
  "read the counters at most every 100 ms and share that reading among the requests meanwhile; a POST",
  "is answered once the rule is stored and in force, one at a time (a write and its undo must not",
  "interleave), and it sends the supervisor that one rule, not the whole set.",
].join("\n");
console.log(table);
if (!v["no-doc"]) writeSection("api", "## REST API under load", table);
