// Processes the bench starts (tracked so that they are always ended, by pid) and /proc readers.
import { closeSync, openSync, readFileSync, readdirSync } from "node:fs";
import type { Subprocess } from "bun";

const started = new Set<Subprocess>();
const cleanups: (() => void)[] = [];

/** Start a process and remember it; `stop` or `cleanupAll` ends it. Its output is appended to `log`, if given. */
export function start(cmd: string[], opts: { cwd?: string; log?: string; env?: Record<string, string> } = {}): Subprocess {
  const fd = opts.log ? openSync(opts.log, "a") : null;
  const env = opts.env && Object.keys(opts.env).length ? { ...process.env, ...opts.env } : undefined;
  const p = Bun.spawn(cmd, { cwd: opts.cwd, env, stdin: "ignore", stdout: fd ?? "ignore", stderr: fd ?? "ignore" });
  if (fd !== null) closeSync(fd);
  started.add(p);
  p.exited.then(() => started.delete(p));
  return p;
}

/** Signal a process by pid and wait up to `ms` for it to exit, then SIGKILL it. Returns true if it exited in time. */
export async function stop(p: Subprocess, signal: NodeJS.Signals = "SIGTERM", ms = 10_000): Promise<boolean> {
  if (p.exitCode !== null || p.signalCode !== null) return true;
  p.kill(signal);
  const inTime = await Promise.race([p.exited.then(() => true), Bun.sleep(ms).then(() => false)]);
  if (!inTime) {
    p.kill("SIGKILL");
    await p.exited;
  }
  return inTime;
}

/** Synchronous command; throws with its stderr on failure. */
export function run(cmd: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  const r = Bun.spawnSync(cmd, { stdin: opts.input ? Buffer.from(opts.input) : "ignore", stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0 && !opts.allowFail) {
    throw new Error(`${cmd.join(" ")} failed (${r.exitCode}): ${r.stderr.toString().trim()}`);
  }
  return r.stdout.toString();
}

/** Register a synchronous clean-up step (run in reverse order, once). */
export function onCleanup(fn: () => void): void {
  cleanups.push(fn);
}

let cleanedUp = false;
/** End every process still running (SIGKILL by pid), then run the clean-up steps. Synchronous, so it works from signal handlers. */
export function cleanupAll(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const p of started) {
    for (const pid of descendants(p.pid).reverse()) tryKill(pid);
    tryKill(p.pid);
  }
  for (const fn of cleanups.reverse()) {
    try {
      fn();
    } catch (e) {
      console.error(`cleanup: ${(e as Error).message}`);
    }
  }
}

function tryKill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
}

function readOr(path: string, fallback = ""): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return fallback;
  }
}

/** All descendants of a pid (children of every thread, recursively). */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    for (const c of readOr(`/proc/${pid}/task/${t}/children`).split(/\s+/).filter(Boolean).map(Number)) {
      if (!out.includes(c)) out.push(c, ...descendants(c));
    }
  }
  return out;
}

/** Start time of a process (field 22), to tell it from a later process that reuses its pid. */
export function startTime(pid: number): string {
  const s = readOr(`/proc/${pid}/stat`);
  return s ? s.slice(s.lastIndexOf(")") + 2).split(" ")[19]! : "";
}

/** SIGKILL a pid only if it is still the same process (same start time). */
export function killIfSame(pid: number, start: string): void {
  if (start && startTime(pid) === start) tryKill(pid);
}

/** utime+stime of one process (all its threads), in clock ticks; 0 if it is gone. */
export function cpuTicks(pid: number): number {
  const s = readOr(`/proc/${pid}/stat`);
  if (!s) return 0;
  const f = s.slice(s.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
  return Number(f[11]) + Number(f[12]); // fields 14 and 15
}

/** utime+stime of a process tree, in ticks. */
export function treeCpuTicks(pid: number): number {
  return [pid, ...descendants(pid)].reduce((sum, p) => sum + cpuTicks(p), 0);
}

/** Per process of a tree, the time its main thread (a worker's loop; not the runtime's JIT and GC
 *  threads) spent runnable but waiting for a CPU: schedstat's run delay, ns. CPU starvation shows
 *  here, not in utime+stime. */
export function treeRunWaitNs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of [pid, ...descendants(pid)]) {
    const f = readOr(`/proc/${p}/schedstat`).split(" ");
    if (f.length >= 2) out.set(p, Number(f[1]));
  }
  return out;
}

/** Whole-machine CPU from /proc/stat, in ticks: softirq and busy (all but idle and iowait). */
export function machineTicks(): { softirq: number; busy: number } {
  const f = readOr("/proc/stat").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  return { softirq, busy: user + nice + system + irq + softirq + steal };
}

/** The Udp: counters of the network namespace that `pid` is in. */
export function udpCounters(pid: number): Record<string, number> {
  return snmpCounters(pid, "Udp");
}

/** One protocol's counters (Ip, Tcp, Udp, …) from /proc/<pid>/net/snmp: the namespace `pid` is in. */
export function snmpCounters(pid: number, proto: string): Record<string, number> {
  const lines = readOr(`/proc/${pid}/net/snmp`).split("\n").filter((l) => l.startsWith(`${proto}:`));
  if (lines.length < 2) throw new Error(`no ${proto} counters for pid ${pid}`);
  const keys = lines[0]!.split(/\s+/).slice(1);
  const vals = lines[1]!.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(keys.map((k, i) => [k, vals[i]!]));
}

export const TICK_US = 1e6 / Number(run(["getconf", "CLK_TCK"]).trim() || 100);
