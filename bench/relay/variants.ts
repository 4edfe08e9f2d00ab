// The three relays: the kernel's multicast forwarding (smcroute), socat, and mcrelay.
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Subprocess } from "bun";
import { descendants, killIfSame, run, start, startTime, stop, treeCpuTicks } from "./proc.ts";
import { exec, type Topology } from "./topology.ts";

export const IN = { group: "239.1.1.1", port: 5001 };
/** Where the relays that can rewrite send to (the kernel cannot: it forwards IN as is). */
export const OUT = { group: "239.2.2.2", port: 5002 };
export const TTL = 8;

export interface Running {
  /** Process CPU (utime+stime) of the relay, in ticks. */
  cpuTicks(): number;
  stop(): Promise<void>;
  /** mcrelay's state directory (its segment's name comes from it) */
  stateDir?: string;
}

export interface Variant {
  name: "kernel" | "socat" | "mcrelay" | "mcrelay-v3" | "mcrelay-ll" | `mcrelay-${string}`;
  /** What the receiver in dst listens on. */
  out: { group: string; port: number };
  start(t: Topology, dir: string, opts: { workers: number; repo: string; traceRatio?: number }): Promise<Running>;
}

async function waitFor(what: string, ms: number, p: Subprocess, ok: () => boolean, log?: string): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (p.exitCode !== null || p.signalCode !== null) {
      throw new Error(`${what} exited (${p.exitCode ?? p.signalCode}) before it was ready${tail(log)}`);
    }
    if (Date.now() > until) throw new Error(`${what} was not ready within ${ms / 1000} s${tail(log)}`);
    await Bun.sleep(50);
  }
}

function tail(path?: string): string {
  if (!path || !existsSync(path)) return "";
  const t = readFileSync(path, "utf8").trim().split("\n").slice(-15).join("\n");
  return t ? `:\n${t}` : "";
}

const read = (path: string) => (existsSync(path) ? readFileSync(path, "utf8") : "");

const kernel: Variant = {
  name: "kernel",
  out: IN,
  async start(t, dir) {
    const conf = join(dir, "smcroute.conf");
    const log = join(dir, "smcroute.log");
    writeFileSync(
      conf,
      `phyint ${t.ifs.relayIn} enable\nphyint ${t.ifs.relayOut} enable\n` +
        `mroute from ${t.ifs.relayIn} group ${IN.group} to ${t.ifs.relayOut}\n`,
    );
    run(exec(t.ns.relay, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]));
    const cmd = ["smcrouted", "-n", "-N", "-f", conf, "-i", `mcrb${t.id}`, "-u", join(dir, "smcroute.sock"), "-P", join(dir, "smcroute.pid"), "-l", "notice"];
    const p = start(exec(t.ns.relay, cmd), { log });
    // Ready when both VIFs exist in the relay namespace's multicast routing table and the daemon said so.
    const vifs = () => read(`/proc/${t.holder.relay.pid}/net/ip_mr_vif`);
    await waitFor("smcrouted", 10_000, p, () => vifs().includes(t.ifs.relayOut) && read(log).includes("Ready"), log);
    return {
      cpuTicks: () => treeCpuTicks(p.pid),
      async stop() {
        await stop(p);
        run(exec(t.ns.relay, ["sysctl", "-qw", "net.ipv4.ip_forward=0"]), { allowFail: true });
      },
    };
  },
};

const socat: Variant = {
  name: "socat",
  out: OUT,
  async start(t, dir) {
    const log = join(dir, "socat.log");
    const cmd = [
      "socat", "-u",
      // A 4 MiB receive buffer: the default 208 KiB holds under 100 full-size datagrams, while mcrelay's
      // AF_PACKET ring is 16 MiB. SO_RCVBUFFORCE (SOL_SOCKET=1, 33; value as little-endian bytes) so that
      // net.core.rmem_max does not cap it.
      `UDP4-RECV:${IN.port},ip-add-membership=${IN.group}:${t.ifs.relayIn},reuseaddr,setsockopt-listen=1:33:x00004000`,
      `UDP4-SEND:${OUT.group}:${OUT.port},ip-multicast-if=${t.addr.relayOut},ip-multicast-ttl=${TTL}`,
    ];
    const p = start(exec(t.ns.relay, cmd), { log });
    const port = `:${IN.port.toString(16).toUpperCase().padStart(4, "0")} `;
    const joined = () => read(`/proc/${t.holder.relay.pid}/net/igmp`).includes("010101EF"); // 239.1.1.1
    await waitFor("socat", 10_000, p, () => read(`/proc/${t.holder.relay.pid}/net/udp`).includes(port) && joined(), log);
    return { cpuTicks: () => treeCpuTicks(p.pid), stop: () => stop(p).then(() => {}) };
  },
};

/** mcrelay with its defaults, or with `env` (MCRELAY_TUNE_*) and `args` (of start) on top. */
export const mcrelayWith = (name: Variant["name"], env: Record<string, string>, args: string[] = []): Variant => ({
  name,
  out: OUT,
  async start(t, dir, { workers, repo, traceRatio }) {
    const config = join(dir, "mcrelay.json");
    const state = join(dir, "state");
    const log = join(dir, "mcrelay.log");
    // The API runs as nobody and must pass through to <state>/api: open up our (mkdtemp, 0700) directories.
    for (let d = dir; d.startsWith(tmpdir() + "/"); d = dirname(d)) chmodSync(d, statSync(d).mode | 0o011);
    writeFileSync(
      config,
      JSON.stringify({
        rules: [{
          name: "bench",
          input: { interface: t.ifs.relayIn, group: IN.group, port: IN.port },
          outputs: [{ interface: t.ifs.relayOut, group: OUT.group, port: OUT.port, ttl: TTL }],
          traceSampleRatio: traceRatio ?? 0,
        }],
      }, null, 2),
    );
    const bun = join(repo, "node_modules/.bin/bun");
    const cmd = [bun, "run", "mcrelay", "start", "--config", config, "--state-dir", state, "--workers", String(workers), ...args];
    const p = start(exec(t.ns.relay, cmd), { cwd: repo, log, env });
    const status = () => {
      try {
        return JSON.parse(read(join(state, "status.json")) || "{}");
      } catch {
        return {}; // being written
      }
    };
    await waitFor("mcrelay", 30_000, p, () => status().state === "ready", log);
    return {
      stateDir: state,
      cpuTicks: () => treeCpuTicks(p.pid),
      async stop() {
        // SIGTERM to the supervisor (bun run forwards it); stragglers of its tree are killed after 10 s.
        const tree = descendants(p.pid).map((pid) => ({ pid, start: startTime(pid) }));
        const sup = Number(status().pid);
        if (sup > 0 && tree.some((x) => x.pid === sup)) process.kill(sup, "SIGTERM");
        if (!(await stop(p))) console.error("mcrelay: did not exit within 10 s of SIGTERM; killed");
        for (const x of tree) killIfSame(x.pid, x.start);
      },
    };
  },
});

export const VARIANTS: Variant[] = [
  kernel, socat, mcrelayWith("mcrelay", {}),
  // The block ring that was the default before issue 17: TPACKET_V3, a block at a time (1 ms timer).
  mcrelayWith("mcrelay-v3", { MCRELAY_TUNE_RING: "v3" }),
  // Busy-polling workers, both on the highest-numbered CPU (--low-latency's auto).
  mcrelayWith("mcrelay-ll", {}, ["--low-latency"]),
];
