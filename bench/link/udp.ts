// UDP left → right at a rate (iperf 2, unicast); what arrived is counted by right's UDP layer,
// as bench/relay does, so a slow iperf server does not count against what is measured.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { start, stop, TICK_US, udpCounters } from "../relay/proc.ts";
import { exec } from "../relay/topology.ts";
import { HIST_MS, MAX_PPS, parseHistogram, type Latency } from "../relay/trial.ts";
import type { LinkTopology } from "./topology.ts";
import type { Running } from "./variants.ts";
import { dropsOf, openWindow } from "./window.ts";

const PORT = 5001;

export interface UdpTrial {
  variant: string;
  size: number;
  /** requested pps; null: as fast as the sender goes */
  rate: number | null;
  offeredPps: number;
  deliveredPps: number;
  /** delivered ÷ the datagrams left's UDP layer sent */
  deliveredPct: number;
  /** relay processes' CPU per delivered datagram, µs (null: the bridge, which has none) */
  relayCpuUs: number | null;
  /** the machine's softirq time per delivered datagram (sender and receiver included) */
  softirqUs: number | null;
  /** one way, send to receive (iperf 2 trip times; sender and receiver share the clock), ms */
  latency: Latency | null;
  /** ms the most-delayed relay process waited runnable for a CPU during the trial (null: the bridge) */
  relayRunWaitMs: number | null;
  drops: Record<string, number>;
}

const arrived = (c: Record<string, number>) => c.InDatagrams! + c.RcvbufErrors!;

export async function udpTrial(t: LinkTopology, variant: string, r: Running, dir: string, size: number, rate: number | null, seconds: number): Promise<UdpTrial> {
  const srvLog = join(dir, "iperf-udp-server.log");
  const cliLog = join(dir, "iperf-udp-client.log");
  for (const f of [srvLog, cliLog]) rmSync(f, { force: true });
  const srv = start(exec(t.right.name, ["iperf", "-s", "-u", "-B", t.addr.right, "-p", String(PORT), "-e", `--histograms=1u,${HIST_MS * 1000}`]), { log: srvLog });
  try {
    const port = `:${PORT.toString(16).toUpperCase().padStart(4, "0")} `;
    for (let i = 0; i < 100 && !readFileSync(`/proc/${t.right.pid}/net/udp`, "utf8").includes(port); i++) await Bun.sleep(20);
    const d0 = udpCounters(t.right.pid), s0 = udpCounters(t.left.pid);
    const end = openWindow(t, r);
    const cli = start(exec(t.left.name, ["iperf", "-u", "-c", t.addr.right, "-p", String(PORT), "-l", String(size),
      "-b", `${rate ?? MAX_PPS}pps`, "-t", String(seconds), "-e", "--trip-times"]), { log: cliLog });
    const inTime = await Promise.race([cli.exited.then(() => true), Bun.sleep((seconds + 15) * 1000).then(() => false)]);
    if (!inTime) await stop(cli, "SIGKILL", 1000);
    await Bun.sleep(300); // let queues drain (a relay's rings, the receiver's socket)
    const w = end();
    const d1 = udpCounters(t.right.pid), s1 = udpCounters(t.left.pid);
    await stop(srv, "SIGINT", 3000);
    const out = readFileSync(cliLog, "utf8");
    // e.g. "[  1] 0.0000-5.0001 sec  3.66 MBytes  10.2 Mbits/sec  60002/0    20001 pps"
    const m = /\d+\.\d+-(\d+\.\d+) sec .*?\s(\d+)\/(\d+)\s+(\d+) pps/.exec(out);
    if (!m) throw new Error(`no result in the iperf client's output:\n${out.trim().split("\n").slice(-5).join("\n")}`);
    const secs = Number(m[1]);
    // The server's report back to the client is UDP too: right sends, left receives; not counted here.
    const delivered = arrived(d1) - arrived(d0);
    const sent = s1.OutDatagrams! - s0.OutDatagrams!;
    const per = (ticks: number | null) => (ticks === null || delivered === 0 ? null : (ticks * TICK_US) / delivered);
    const pdf = readFileSync(srvLog, "utf8").split("\n").filter((l) => l.includes("PDF:")).at(-1);
    return {
      variant, size, rate,
      offeredPps: Number(m[4]),
      deliveredPps: delivered / secs,
      deliveredPct: sent > 0 ? (100 * delivered) / sent : 0,
      relayCpuUs: per(w.relayTicks),
      softirqUs: per(w.softirqTicks),
      latency: pdf ? parseHistogram(pdf) : null,
      relayRunWaitMs: w.relayRunWaitMs?.max ?? null,
      drops: dropsOf(w),
    };
  } finally {
    await stop(srv, "SIGINT", 3000);
  }
}
