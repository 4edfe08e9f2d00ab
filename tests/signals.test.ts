// Signals as an operator sends them, to a relay started the ways the README shows: `make start`
// and `bun run mcrelay start`. Each puts a wrapper (make, bun run) between the shell and the
// supervisor; a signal to the process group (Ctrl-C, `kill -- -PGID`) reaches both, and a
// wrapper may forward it again. Either way the supervisor must act on it exactly once: one
// reload per SIGHUP, one draining stop (exit 0) per SIGTERM/SIGINT, not "exiting at once".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../lab/netns.ts";
import { readStatus } from "../services/protocol/status.ts";
import { ROOT } from "./lib/relay.ts";

let lab: Lab;
let ns: string;
let tmp: string;
beforeAll(() => {
  lab = Lab.create("sig");
  ns = lab.ns("rly");
  tmp = mkdtempSync(join(tmpdir(), "mcrelay-signals-"));
  chmodSync(tmp, 0o755);
  writeFileSync(join(tmp, "rules.json"), JSON.stringify({ rules: [] }));
});
afterAll(() => {
  lab?.destroy();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const WAYS = {
  "make start": (args: string[]) => ["make", "-s", "start", `ARGS=${args.join(" ")}`],
  "bun run mcrelay start": (args: string[]) => ["node_modules/.bin/bun", "run", "mcrelay", "start", ...args],
} as const;

interface Started {
  wrapper: ChildProcess;
  supervisor: number;
  events: () => { msg: string; signal?: string }[];
  /** the wrapper's exit: its code, or the signal it re-raised (make does, after its child) */
  exited: Promise<number | string>;
  state: string;
}

let n = 0;
/** Starts the relay in its own process group (as a shell's job is), the wrapper its leader. */
async function start(way: keyof typeof WAYS): Promise<Started> {
  const state = join(tmp, `s${n++}`);
  const args = ["--workers", "1", "--api-listen", `unix:${join(state, "api", "http.sock")}`, "--log-format", "json", "--config", join(tmp, "rules.json"), "--state-dir", state];
  const wrapper = spawn("ip", ["netns", "exec", ns, ...WAYS[way](args)], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  wrapper.stdout!.on("data", (d) => (out += d));
  wrapper.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | string>((res) => wrapper.on("exit", (code, sig) => res(code ?? sig!)));
  const deadline = Date.now() + 60_000; // make start runs the (quick, idempotent) set-up first
  let st = readStatus(state);
  while (st?.state !== "ready" || !out.includes("API listening")) {
    if (wrapper.exitCode !== null || Date.now() > deadline) throw new Error(`relay did not start through ${way}: ${out}`);
    await Bun.sleep(50);
    st = readStatus(state);
  }
  const events = () => out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  return { wrapper, supervisor: st.pid, events, exited, state };
}

const count = (s: Started, msg: string) => s.events().filter((e) => e.msg === msg).length;

/** The relay drained and stopped (exit 0) once; its workers and API were stopped by it, not by the signal. */
async function expectStoppedOnce(s: Started, signal: string, wrapperExit: (number | string)[] = [0]) {
  const code = await Promise.race([s.exited, Bun.sleep(15_000).then(() => "still running")]);
  expect(wrapperExit).toContain(code);
  expect(s.events().filter((e) => e.msg === "stopping").map((e) => e.signal)).toEqual([signal]);
  expect(count(s, "second signal: exiting at once")).toBe(0);
  expect(s.events().filter((e) => e.msg === "relay stopped")).toMatchObject([{ exitCode: 0 }]);
  expect(s.events().filter((e) => /worker died|did not stop cleanly|API exited/.test(e.msg))).toEqual([]);
  expect(["ingress stopped", "egress stopped"].map((m) => count(s, m))).toEqual([1, 1]);
  expect(existsSync(join(s.state, "status.json"))).toBe(false);
}

for (const way of Object.keys(WAYS) as (keyof typeof WAYS)[]) {
  describe(way, () => {
    test("SIGHUP to the process group: one reload; then SIGTERM to the group: one draining stop", async () => {
      const s = await start(way);
      process.kill(-s.wrapper.pid!, "SIGHUP");
      const deadline = Date.now() + 5000;
      while (count(s, "SIGHUP: rules file reloaded") === 0 && Date.now() < deadline) await Bun.sleep(50);
      await Bun.sleep(500); // time for a second one, were it coming
      expect(count(s, "SIGHUP: rules file reloaded")).toBe(1);
      process.kill(-s.wrapper.pid!, "SIGTERM");
      // make, signalled itself, waits for the relay and then ends by the signal.
      await expectStoppedOnce(s, "SIGTERM", way === "make start" ? ["SIGTERM", "SIGHUP"] : [0]);
    }, 90_000);

    test("Ctrl-C (SIGINT to the process group): one draining stop", async () => {
      const s = await start(way);
      process.kill(-s.wrapper.pid!, "SIGINT");
      await expectStoppedOnce(s, "SIGINT", way === "make start" ? ["SIGINT"] : [0]);
    }, 90_000);

    test("SIGTERM to the supervisor's pid (from status.json): one draining stop, and the wrapper exits with it", async () => {
      const s = await start(way);
      process.kill(s.supervisor, "SIGTERM");
      await expectStoppedOnce(s, "SIGTERM");
    }, 90_000);
  });
}

test("bun run: SIGTERM and SIGHUP to the wrapper's own pid reach the supervisor once", async () => {
  const s = await start("bun run mcrelay start");
  const wrapperPid = Number(Bun.spawnSync(["pgrep", "-P", String(s.wrapper.pid), "-x", "bun"]).stdout.toString().trim()) || s.wrapper.pid!;
  process.kill(wrapperPid, "SIGHUP");
  const deadline = Date.now() + 5000;
  while (count(s, "SIGHUP: rules file reloaded") === 0 && Date.now() < deadline) await Bun.sleep(50);
  await Bun.sleep(500);
  expect(count(s, "SIGHUP: rules file reloaded")).toBe(1);
  process.kill(wrapperPid, "SIGTERM");
  await expectStoppedOnce(s, "SIGTERM");
}, 90_000);
