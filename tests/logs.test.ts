// Logs as an operator sees them: on a terminal one coloured line per event from every process
// (supervisor, workers, API); into a pipe, or with --log-format json, JSON lines. The terminal
// is a real pty (util-linux `script`); the relay runs in a throw-away namespace.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../lab/netns.ts";
import { readStatus } from "../services/protocol/status.ts";
import { BUN, ROOT, collect } from "./lib/relay.ts";

let lab: Lab;
let ns: string;
let tmp: string;

beforeAll(() => {
  lab = Lab.create("log");
  ns = lab.ns("rly");
  tmp = mkdtempSync(join(tmpdir(), "mcrelay-logs-"));
  chmodSync(tmp, 0o755); // the API (user mcrelay) must pass through to its state dir
  writeFileSync(join(tmp, "rules.json"), JSON.stringify({ rules: [] }));
});
afterAll(() => {
  lab?.destroy();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Starts the relay (through a pty when tty), waits until it is up, stops it; its output. */
async function run(name: string, opts: { tty: boolean; args?: string[] }): Promise<string> {
  const state = join(tmp, name);
  const start = [BUN, "bin/mcrelay.ts", "start", "--workers", "1", "--config", join(tmp, "rules.json"), "--state-dir", state,
    "--api-listen", `unix:${join(state, "api", "http.sock")}`, ...(opts.args ?? [])];
  // script -e: its exit code is the relay's; -f: output as it comes; the typescript goes nowhere.
  const cmd = opts.tty ? ["script", "-qfec", start.map((a) => `'${a}'`).join(" "), "/dev/null"] : start;
  const p = lab.spawn(ns, cmd, { cwd: ROOT, env: { TERM: "xterm-256color" } });
  const out = collect(p.stdout);
  const err = collect(p.stderr);
  const deadline = Date.now() + 30_000;
  // Up: the API has logged and the supervisor has said it is ready (in either order).
  while (!/API listening/.test(out.text() + err.text()) || !/relay ready/.test(out.text() + err.text())) {
    if (p.exitCode !== null || Date.now() > deadline) throw new Error(`relay did not come up: ${out.text()}${err.text()}`);
    await Bun.sleep(50);
  }
  process.kill(readStatus(state)!.pid, "SIGTERM");
  expect(await p.exited).toBe(0);
  await Promise.all([out.done, err.done]);
  return out.text() + err.text();
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const plain = (s: string) => s.replace(ANSI, "");
const lines = (s: string) => s.split(/\r?\n/).filter((l) => l.trim() !== "");

describe("log format", () => {
  test("on a terminal: one coloured line per event, from the supervisor, both workers and the API", async () => {
    const text = await run("tty", { tty: true });
    expect(text).toMatch(ANSI);
    const ls = lines(plain(text));
    // "[12:34:56.789] INFO: supervisor: relay ready {"rules":0,"active":0}"
    const event = /^\[\d\d:\d\d:\d\d\.\d{3}\] (TRACE|DEBUG|INFO|WARN|ERROR|FATAL): (supervisor|ingress \d+|egress \d+|api): \S/;
    const events = ls.filter((l) => event.test(l));
    for (const [who, msg] of [["supervisor", "relay ready"], ["ingress 0", "ingress ready"], ["egress 0", "egress ready"], ["api", "API listening"], ["supervisor", "relay stopped"]]) {
      expect(events.some((l) => l.includes(`: ${who}: ${msg}`))).toBe(true);
    }
    // Every line is an event: no JSON, no continuation lines.
    expect(ls.filter((l) => !event.test(l))).toEqual([]);
    expect(ls.some((l) => l.startsWith("{"))).toBe(false);
  }, 60_000);

  test("into a pipe: JSON lines, every one with its component", async () => {
    const text = await run("pipe", { tty: false });
    expect(text).not.toMatch(ANSI);
    const events = lines(text).map((l) => JSON.parse(l));
    expect(events.length).toBeGreaterThan(5);
    expect(new Set(events.map((e) => e.component))).toEqual(new Set(["supervisor", "ingress", "egress", "api"]));
    expect(events.find((e) => e.msg === "relay ready")).toMatchObject({ component: "supervisor", level: 30 });
  }, 60_000);

  test("--log-format json on a terminal: JSON lines there too", async () => {
    const text = await run("tty-json", { tty: true, args: ["--log-format", "json"] });
    const events = lines(text).map((l) => JSON.parse(l));
    expect(events.some((e) => e.component === "egress" && e.msg === "egress ready")).toBe(true);
  }, 60_000);
});
