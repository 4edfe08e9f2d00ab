// A real relay for tests: `bun bin/mcrelay.ts start` inside a namespace, with its own state dir.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStats, readStatus, type Status } from "../../services/protocol/status.ts";
import type { Stats } from "../../shm/stats.ts";
import type { Lab } from "../../lab/netns.ts";
import { OpenApiValidator, type OpenApiDocument } from "./openapi.ts";

import { BUN, ROOT, collect } from "../../lab/procs.ts";
export { BUN, ROOT, collect, runGen, spawnGen, startSink } from "../../lab/procs.ts";

export interface RelayOpts {
  workers?: number;
  env?: Record<string, string>;
  noApi?: boolean;
  args?: string[];
}

const args = (o: RelayOpts) => ["--workers", String(o.workers ?? 1), ...(o.noApi ? ["--no-api"] : []), ...(o.args ?? [])];

export class TestRelay {
  readonly stateDir: string;
  readonly proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  private readonly out: ReturnType<typeof collect>;
  private readonly err: ReturnType<typeof collect>;
  private readonly envToken: string | undefined;
  /** The relay's own /openapi.json, fetched on the first api() answer that needs it. */
  private openapi: Promise<OpenApiValidator> | null = null;

  private constructor(lab: Lab, ns: string, config: unknown, args: string[], env?: Record<string, string>, stateDir?: string) {
    this.stateDir = stateDir ?? mkdtempSync(join(tmpdir(), "mcrelay-test-"));
    this.envToken = env?.MCRELAY_API_TOKEN;
    const cfg = join(this.stateDir, "rules.json");
    writeFileSync(cfg, JSON.stringify(config));
    this.proc = lab.spawn(ns, [BUN, "bin/mcrelay.ts", "start", "--config", cfg, "--state-dir", this.stateDir,
      "--api-listen", `unix:${join(this.stateDir, "api", "http.sock")}`, ...args], { cwd: ROOT, env });
    this.out = collect(this.proc.stdout);
    this.err = collect(this.proc.stderr);
  }

  /** The API listens on a Unix socket in the state dir, so the test reaches it from any namespace. */
  get apiSocket(): string {
    return join(this.stateDir, "api", "http.sock");
  }

  static async start(lab: Lab, ns: string, config: unknown, opts: RelayOpts = {}): Promise<TestRelay> {
    const r = new TestRelay(lab, ns, config, args(opts), opts.env);
    await r.ready();
    return r;
  }

  /** Starts again on the same state directory (rules in the store survive), after stop({ keep: true }). */
  static async restart(prev: TestRelay, lab: Lab, ns: string, config: unknown, opts: RelayOpts = {}): Promise<TestRelay> {
    const r = new TestRelay(lab, ns, config, args(opts), opts.env, prev.stateDir);
    await r.ready();
    return r;
  }

  private async ready(): Promise<void> {
    const deadline = Date.now() + 20_000;
    // Only a status written by the process we started counts (a killed one leaves its own).
    for (let st = readStatus(this.stateDir); st?.state !== "ready" || st.pid !== this.proc.pid; st = readStatus(this.stateDir)) {
      if (this.proc.exitCode !== null) throw new Error(`relay exited with ${this.proc.exitCode} before it was ready:\n${this.logs()}`);
      if (Date.now() > deadline) throw new Error(`relay not ready within 20 s:\n${this.logs()}`);
      await Bun.sleep(50);
    }
  }

  /** Waits until the API answers /healthz with 200. */
  async apiReady(): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        if ((await fetch("http://relay/healthz", { unix: this.apiSocket } as RequestInit)).status === 200) return;
      } catch {}
      if (Date.now() > deadline) throw new Error(`API not ready within 15 s:\n${this.logs()}`);
      await Bun.sleep(50);
    }
  }

  get token(): string {
    return this.envToken ?? readFileSync(join(this.stateDir, "api", "api-token"), "utf8").trim();
  }

  /** An HTTP request to the relay's API, with the bearer token unless auth: false. */
  async api(method: string, path: string, body?: unknown, opts: { auth?: boolean; raw?: string } = {}): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = {};
    if (opts.auth !== false) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined || opts.raw !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`http://relay${path}`, { method, headers, body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)), unix: this.apiSocket } as RequestInit);
    const text = await res.text();
    const problems = await this.checkAnswer(method, path, res, text);
    if (problems.length) throw new Error(`the answer does not match the relay's OpenAPI document:\n${problems.join("\n")}`);
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  /** What in an answer differs from the relay's OpenAPI document (nothing for routes it does not describe). */
  private async checkAnswer(method: string, path: string, res: Response, text: string): Promise<string[]> {
    if (!this.openapi) {
      const p = fetch("http://relay/openapi.json", { unix: this.apiSocket } as RequestInit).then(async (r) => {
        if (r.status !== 200) throw new Error(`GET /openapi.json answered ${r.status}`);
        return new OpenApiValidator((await r.json()) as OpenApiDocument);
      });
      this.openapi = p;
      p.catch(() => void (this.openapi === p && (this.openapi = null))); // asked again next time
    }
    const v = await this.openapi;
    if (!v.find(method, path)) return [];
    return v.check(method, path, res.status, res.headers.get("content-type"), text);
  }

  logs(): string {
    return this.out.text() + this.err.text();
  }

  status(): Status {
    const s = readStatus(this.stateDir);
    if (!s) throw new Error("relay has no status.json");
    return s;
  }

  stats(): Stats {
    return readStats(this.stateDir);
  }

  /** SIGTERM and wait; returns the exit code and how long it took. keep: leave the state dir. */
  async stop(opts: { keep?: boolean } = {}): Promise<{ code: number | null; ms: number }> {
    const t0 = Date.now();
    this.proc.kill("SIGTERM");
    const code = await Promise.race([this.proc.exited, Bun.sleep(10_000).then(() => null)]);
    await Promise.all([this.out.done, this.err.done]).catch(() => {});
    if (!opts.keep) rmSync(this.stateDir, { recursive: true, force: true });
    return { code, ms: Date.now() - t0 };
  }
}

/** Packets the kernel dropped because a CPU's backlog queue was full (/proc/net/softnet_stat). */
export function backlogDrops(): number {
  return readFileSync("/proc/net/softnet_stat", "utf8").trim().split("\n").reduce((a, l) => a + parseInt(l.split(/\s+/)[1], 16), 0);
}

/**
 * Asserts a sink got every one of n packets once. On failure it says where they went: the
 * relay's own counters, and the kernel's backlog drops (a starved machine, not the relay).
 */
export function expectExactlyOnce(got: any, n: number, relay?: TestRelay, backlogBefore?: number): void {
  const seen = { unique: got.unique, missing: got.missing, duplicates: got.duplicates, corrupted: got.corrupted };
  const want = { unique: n, missing: 0, duplicates: 0, corrupted: 0 };
  if (JSON.stringify(seen) === JSON.stringify(want)) return;
  const st = relay?.stats();
  const why = {
    sink: seen,
    relay: st ? { rules: st.rules.map((r) => ({ id: r.id, rx: r.rxPackets, tx: r.txPackets, drops: r.drops })), drops: Object.fromEntries(Object.entries(st.drops).filter(([, v]) => v > 0)) } : undefined,
    kernelBacklogDrops: backlogBefore === undefined ? undefined : backlogDrops() - backlogBefore,
  };
  throw new Error(`expected ${n} packets exactly once; ${JSON.stringify(why)}`);
}
