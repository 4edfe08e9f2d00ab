// Runs bench:relay as a child process (own settings, own environment) and returns its rows; its
// result file is folded into the caller's, so only the caller's file stays in bench/results.
import { readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { Row, SearchResult } from "./report.ts";

export interface SubRun {
  rows: Row[];
  search: SearchResult[];
  errors: Record<string, string>;
}

export function runRelayBench(args: string[], env: Record<string, string> = {}): SubRun {
  const repo = resolve(import.meta.dir, "../..");
  const cmd = ["bun", "bench/relay.ts", ...args, "--no-doc", "--skip-setup"];
  const p = Bun.spawnSync(cmd, { cwd: repo, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const file = /results: (\S+\.json)/.exec(p.stdout.toString())?.[1];
  if (p.exitCode !== 0 || !file) {
    return { rows: [], search: [], errors: { run: `bench:relay ${args.join(" ")} failed (${p.exitCode}): ${p.stderr.toString().slice(-1500)}` } };
  }
  const got = JSON.parse(readFileSync(file, "utf8")) as SubRun;
  rmSync(file);
  return got;
}
