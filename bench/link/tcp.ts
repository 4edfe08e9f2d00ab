// TCP throughput left → right: `iperf -s` in right, `iperf -c … -P N -t S` in left (iperf 2).
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { snmpCounters, start, stop, TICK_US } from "../relay/proc.ts";
import { exec } from "../relay/topology.ts";
import type { LinkTopology } from "./topology.ts";
import type { Running } from "./variants.ts";
import { dropsOf, openWindow, type Window } from "./window.ts";

const PORT = 5201;

export interface TcpTrial {
  variant: string;
  streams: number;
  /** goodput as the iperf client reports it (the [SUM] line with several streams) */
  gbps: number;
  /** segments the sender retransmitted (left's Tcp RetransSegs): loss or reordering on the way */
  retransmits: number;
  segmentsOut: number;
  /** frames that crossed left → right, and their mean size on the wire (super-frames: > MTU) */
  frames: number;
  meanFrameBytes: number;
  /** relay CPU: cores busy on average, and µs per frame carried (both ways) */
  relayCores: number | null;
  relayUsPerFrame: number | null;
  softirqUsPerFrame: number;
  drops: Record<string, number>;
  window: Window;
}

/** Listening once right's namespace has a TCP socket in LISTEN on the port. */
async function listening(pid: number): Promise<void> {
  const port = `:${PORT.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 0A`;
  for (let i = 0; i < 100 && !readFileSync(`/proc/${pid}/net/tcp`, "utf8").includes(port); i++) await Bun.sleep(20);
}

/** "[SUM] 0.0000-5.0123 sec  2.10 GBytes  3601 Mbits/sec …", or the one stream's line. */
export function parseTcpGbps(out: string, streams: number): number | null {
  const re = /\[\s*(SUM|\d+)\]\s+\d+\.\d+-\d+\.\d+ sec\s+[\d.]+ \w+\s+([\d.]+) Mbits\/sec/g;
  const lines = [...out.matchAll(re)].filter((m) => (streams > 1 ? m[1] === "SUM" : m[1] !== "SUM"));
  const m = lines.at(-1);
  return m ? Number(m[2]) / 1000 : null;
}

export async function tcpTrial(t: LinkTopology, variant: string, r: Running, dir: string, streams: number, seconds: number): Promise<TcpTrial> {
  const srvLog = join(dir, "iperf-tcp-server.log");
  const cliLog = join(dir, "iperf-tcp-client.log");
  for (const f of [srvLog, cliLog]) rmSync(f, { force: true });
  const srv = start(exec(t.right.name, ["iperf", "-s", "-p", String(PORT), "-B", t.addr.right]), { log: srvLog });
  try {
    await listening(t.right.pid);
    const tcp0 = snmpCounters(t.left.pid, "Tcp");
    const end = openWindow(t, r);
    const cli = start(exec(t.left.name, ["iperf", "-c", t.addr.right, "-p", String(PORT), "-t", String(seconds), "-P", String(streams), "-f", "m", "-e"]), { log: cliLog });
    const inTime = await Promise.race([cli.exited.then(() => true), Bun.sleep((seconds + 20) * 1000).then(() => false)]);
    if (!inTime) await stop(cli, "SIGKILL", 1000);
    const w = end();
    const tcp1 = snmpCounters(t.left.pid, "Tcp");
    const out = readFileSync(cliLog, "utf8");
    const gbps = parseTcpGbps(out, streams);
    if (gbps === null) throw new Error(`no result in the iperf client's output${inTime ? "" : " (it did not finish: killed)"}:\n${out.trim().split("\n").slice(-6).join("\n")}`);
    const frames = w.aToB.frames + w.bToA.frames;
    const per = (ticks: number | null) => (ticks === null || frames === 0 ? null : (ticks * TICK_US) / frames);
    return {
      variant, streams, gbps,
      retransmits: tcp1.RetransSegs! - tcp0.RetransSegs!,
      segmentsOut: tcp1.OutSegs! - tcp0.OutSegs!,
      frames: w.aToB.frames,
      meanFrameBytes: w.aToB.frames ? w.aToB.bytes / w.aToB.frames : 0,
      relayCores: w.relayTicks === null ? null : (w.relayTicks * TICK_US) / 1e6 / w.seconds,
      relayUsPerFrame: per(w.relayTicks),
      softirqUsPerFrame: per(w.softirqTicks) ?? 0,
      drops: dropsOf(w),
      window: w,
    };
  } finally {
    await stop(srv);
  }
}
