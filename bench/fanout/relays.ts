// The relays a fan-out or pipeline benchmark compares, each started in a namespace for a set of
// routes (one input, N outputs): the kernel's multicast forwarding (smcroute, one VIF per
// interface; it forwards the group as is), socat (one process per output), mcrelay (one rule;
// send "raw" or "socket").
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Subprocess } from "bun";
import { descendants, killIfSame, run, start, startTime, stop, treeCpuTicks } from "../relay/proc.ts";
import { exec } from "../relay/topology.ts";

export interface Output {
  ifname: string;
  /** the interface's address (socat sends from it) */
  addr: string;
  group: string;
  port: number;
}

export interface Route {
  ns: string;
  /** a pid in ns, to read its /proc/<pid>/net */
  pidInNs: number;
  input: { ifname: string; group: string; port: number };
  outputs: Output[];
  ttl: number;
}

export interface Running {
  cpuTicks(): number;
  stop(): Promise<void>;
}

export type RelayName = "kernel" | "socat" | "mcrelay" | "mcrelay-socket" | "mcrelay-gso";

const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : "");

async function waitFor(what: string, ms: number, p: Subprocess, ok: () => boolean, log: string): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (p.exitCode !== null || p.signalCode !== null) throw new Error(`${what} exited (${p.exitCode ?? p.signalCode}) before it was ready: ${read(log).slice(-800)}`);
    if (Date.now() > until) throw new Error(`${what} was not ready within ${ms / 1000} s: ${read(log).slice(-800)}`);
    await Bun.sleep(50);
  }
}

/** The kernel cannot rewrite the group: its outputs are the input group on each output interface. */
async function kernel(r: Route, dir: string): Promise<Running> {
  const conf = join(dir, "smcroute.conf");
  const log = join(dir, "smcroute.log");
  const ifs = [...new Set(r.outputs.map((o) => o.ifname))];
  writeFileSync(conf, [r.input.ifname, ...ifs].map((i) => `phyint ${i} enable\n`).join("") +
    `mroute from ${r.input.ifname} group ${r.input.group} to ${ifs.join(" ")}\n`);
  run(exec(r.ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]));
  const id = `mcrf${Math.random().toString(16).slice(2, 8)}`;
  const p = start(exec(r.ns, ["smcrouted", "-n", "-N", "-f", conf, "-i", id, "-u", join(dir, "smcroute.sock"), "-P", join(dir, "smcroute.pid"), "-l", "notice"]), { log });
  const vifs = () => read(`/proc/${r.pidInNs}/net/ip_mr_vif`);
  await waitFor("smcrouted", 10_000, p, () => ifs.every((i) => vifs().includes(i)) && read(log).includes("Ready"), log);
  return { cpuTicks: () => treeCpuTicks(p.pid), stop: async () => void (await stop(p)) };
}

async function socat(r: Route, dir: string): Promise<Running> {
  const ps = r.outputs.map((o, i) => {
    const log = join(dir, `socat-${i}.log`);
    return { log, p: start(exec(r.ns, ["socat", "-u",
      // 4 MiB receive buffers (SO_RCVBUFFORCE, as bench:relay does): the default holds < 100 datagrams.
      `UDP4-RECV:${r.input.port},ip-add-membership=${r.input.group}:${r.input.ifname},reuseaddr,reuseport,setsockopt-listen=1:33:x00004000`,
      `UDP4-SEND:${o.group}:${o.port},ip-multicast-if=${o.addr},ip-multicast-ttl=${r.ttl}`]), { log }) };
  });
  const port = `:${r.input.port.toString(16).toUpperCase().padStart(4, "0")} `;
  const bound = () => read(`/proc/${r.pidInNs}/net/udp`).split("\n").filter((l) => l.includes(port)).length >= ps.length;
  await waitFor("socat", 10_000, ps[0]!.p, bound, ps[0]!.log);
  return {
    cpuTicks: () => ps.reduce((a, x) => a + treeCpuTicks(x.p.pid), 0),
    stop: async () => void (await Promise.all(ps.map((x) => stop(x.p)))),
  };
}

async function mcrelay(r: Route, dir: string, repo: string, send: "raw" | "socket" | "gso", workers: number): Promise<Running> {
  const rules = [{ name: "bench", input: { interface: r.input.ifname, group: r.input.group, port: r.input.port },
    outputs: r.outputs.map((o) => ({ interface: o.ifname, group: o.group, port: o.port, ttl: r.ttl, ...(send === "gso" ? { send: "raw", gso: true } : { send }) })) }];
  if (send !== "gso") return startMcrelay(r.ns, { rules }, dir, repo, ["--workers", String(workers)]);
  // The receivers count datagrams by UDP's counters, which count a super-frame once: with the
  // output veths' tx checksum offload off the kernel cuts each super-frame at the relay's side
  // (in egress's send, in software, checksums computed too), as for a NIC without UDP
  // segmentation offload, and the receivers see datagrams. Restored when the relay stops.
  const ifs = [...new Set(r.outputs.map((o) => o.ifname))];
  const tx = (on: boolean) => { for (const i of ifs) run(exec(r.ns, ["ethtool", "-K", i, "tx", on ? "on" : "off"])); };
  tx(false);
  try {
    const m = await startMcrelay(r.ns, { rules }, dir, repo, ["--workers", String(workers)]);
    return { ...m, stop: async () => (await m.stop(), tx(true)) };
  } catch (e) {
    tx(true);
    throw e;
  }
}

/**
 * `mcrelay start --no-api` in a namespace with a rules file (rules, links, pool) and its state in
 * `dir`; ready once status.json says so and `ready` (if given) holds for it. Stopping it ends
 * every process of its tree, by pid.
 */
export async function startMcrelay(
  ns: string, config: object, dir: string, repo: string, args: string[] = [], ready: (status: Record<string, any>) => boolean = () => true,
): Promise<Running & { state: string; pid: number }> {
  const file = join(dir, "mcrelay.json");
  const state = join(dir, "state");
  const log = join(dir, "mcrelay.log");
  // The workers run as the relay user and must pass through to the state dir: open up our (mkdtemp, 0700) directories.
  for (let d = dir; d.startsWith(tmpdir() + "/"); d = dirname(d)) chmodSync(d, statSync(d).mode | 0o011);
  writeFileSync(file, JSON.stringify(config));
  const cmd = [join(repo, "node_modules/.bin/bun"), "bin/mcrelay.ts", "start", "--config", file, "--state-dir", state, ...args, "--no-api"];
  const p = start(exec(ns, cmd), { cwd: repo, log });
  const status = () => {
    try {
      return JSON.parse(read(join(state, "status.json")) || "{}");
    } catch {
      return {};
    }
  };
  await waitFor("mcrelay", 30_000, p, () => status().state === "ready" && ready(status()), log);
  return {
    state,
    pid: p.pid,
    cpuTicks: () => treeCpuTicks(p.pid),
    async stop() {
      const tree = descendants(p.pid).map((pid) => ({ pid, start: startTime(pid) }));
      if (!(await stop(p))) console.error("mcrelay: did not exit within 10 s of SIGTERM; killed");
      for (const x of tree) killIfSame(x.pid, x.start);
    },
  };
}

export function startRelay(name: RelayName, r: Route, dir: string, o: { repo: string; workers: number }): Promise<Running> {
  if (name === "kernel") return kernel(r, dir);
  if (name === "socat") return socat(r, dir);
  return mcrelay(r, dir, o.repo, name === "mcrelay" ? "raw" : name === "mcrelay-gso" ? "gso" : "socket", o.workers);
}
