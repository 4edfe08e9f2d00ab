// One trial: iperf 2 sends for N seconds at a given rate; counters say what reached the receiver.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { machineTicks, start, stop, TICK_US, udpCounters } from "./proc.ts";
import { exec, type Topology } from "./topology.ts";
import { IN, TTL, type Running, type Variant } from "./variants.ts";

/** "max" is a rate iperf cannot reach: it then sends as fast as it can. */
export const MAX_PPS = 100_000_000;

export interface Trial {
  variant: string;
  size: number;
  /** Requested packets per second; null for "max". */
  rate: number | null;
  /** Sender: packets, seconds and pps from the iperf client's report. */
  sent: number;
  seconds: number;
  offeredPps: number;
  /** Packets that reached the receiver's UDP layer (socket or its full buffer) in dst. */
  delivered: number;
  deliveredPps: number;
  deliveredPct: number;
  /** Of those, dropped because the receiving iperf's socket buffer was full (not the relay's fault). */
  receiverDrops: number;
  /** UDP datagrams the sender's stack counted out (includes iperf's end-of-test datagrams): the base of deliveredPct. */
  udpOut: number;
  /** Relay process CPU (utime+stime) per delivered packet, µs. */
  relayCpuUs: number | null;
  /** Whole-machine softirq time per delivered packet, µs (includes sender and receiver). */
  softirqUs: number | null;
  /** Whole-machine busy CPU per delivered packet, µs (sender, relay, receiver and all else). */
  machineUs: number | null;
  /** iperf server's own view: datagrams received and lost (by sequence number), if it reported. */
  iperfServer: { received: number; lost: number } | null;
  /** Send-to-receive time of the packets that arrived (iperf's trip times, 1 µs bins), ms. */
  latency: Latency | null;
}

export interface Latency {
  p50: number;
  p99: number;
  p999: number;
  /** Packets later than the histogram's range (HIST_MS): a percentile that falls there is Infinity. */
  over: number;
}

/** iperf's latency histogram: 1 µs bins up to this many ms. */
export const HIST_MS = 200;

/** Percentiles from iperf 2's "T8(f)-PDF: bin(w=1us):cnt(N)=bin:count,…,(…obl/obu=a/b)" line; bin i holds [i-1, i) × w. */
export function parseHistogram(line: string): Latency | null {
  const m = /PDF: bin\(w=(\d+)us\):cnt\((\d+)\)=([\d:,]+)/.exec(line);
  if (!m) return null;
  const w = Number(m[1]) / 1000;
  const bins = m[3]!.split(",").filter(Boolean).map((b) => b.split(":").map(Number) as [number, number]);
  const over = Number(/obl\/obu=\d+\/(\d+)/.exec(line)?.[1] ?? 0);
  const total = bins.reduce((a, [, c]) => a + c, 0) + over;
  const at = (q: number) => {
    const rank = Math.ceil(q * total);
    let seen = 0;
    for (const [i, c] of bins) if ((seen += c) >= rank) return i * w;
    return Infinity;
  };
  return total > 0 ? { p50: at(0.5), p99: at(0.99), p999: at(0.999), over } : null;
}

/** `flows` > 1: that many iperf clients, each its own source port (so a flow of its own for
 *  PACKET_FANOUT_HASH), sharing the rate; offered pps then comes from the sender's UDP counters. */
export async function runTrial(
  t: Topology, v: Variant, relay: Running, dir: string, size: number, rate: number | null, seconds: number, flows = 1,
): Promise<Trial> {
  const srvLog = join(dir, "iperf-server.log");
  const cliLog = join(dir, "iperf-client.log");
  for (const f of [srvLog, cliLog]) rmSync(f, { force: true });
  const dstPid = t.holder.dst.pid;
  const srv = start(exec(t.ns.dst, ["iperf", "-s", "-u", "-B", `${v.out.group}%${t.ifs.dst}`, "-p", String(v.out.port),
    "-e", `--histograms=1u,${HIST_MS * 1000}`]), { log: srvLog });
  // Ready once the group is joined on the dst interface.
  const hex = v.out.group.split(".").map((o) => Number(o).toString(16).toUpperCase().padStart(2, "0")).reverse().join("");
  for (let i = 0; i < 100 && !readFileSync(`/proc/${dstPid}/net/igmp`, "utf8").includes(hex); i++) await Bun.sleep(20);
  await Bun.sleep(100);

  // IgnoredMulti: multicast that reached UDP but matched no socket. iperf 2's server connect()s its
  // socket to the first sender it hears, so with several flows from several source ports the
  // others' datagrams land there; they reached the receiver all the same.
  const arrived = (c: Record<string, number>) => c.InDatagrams! + c.RcvbufErrors! + (c.IgnoredMulti ?? 0);
  const d0 = udpCounters(dstPid), s0 = udpCounters(t.holder.src.pid), m0 = machineTicks(), r0 = relay.cpuTicks();

  const client = [
    "iperf", "-u", "-c", IN.group, "-p", String(IN.port), "-B", t.addr.src, "-T", String(TTL),
    "-l", String(size), "-b", `${Math.round((rate ?? MAX_PPS) / flows)}pps`, "-t", String(seconds), "-e", "--trip-times",
  ];
  // iperf 2 refuses -P with a multicast destination: several flows are several clients, each
  // bound to its own ephemeral source port. The first one's report gives the duration.
  const clis = Array.from({ length: flows }, (_, i) => start(exec(t.ns.src, client), { log: i === 0 ? cliLog : undefined }));
  const all = Promise.all(clis.map((c) => c.exited));
  const inTime = await Promise.race([all.then(() => true), Bun.sleep((seconds + 15) * 1000).then(() => false)]);
  if (!inTime) for (const c of clis) await stop(c, "SIGKILL", 1000);
  await Bun.sleep(300); // let queues drain

  const d1 = udpCounters(dstPid), s1 = udpCounters(t.holder.src.pid), m1 = machineTicks(), r1 = relay.cpuTicks();
  await stop(srv, "SIGINT", 3000);

  const out = readFileSync(cliLog, "utf8");
  // e.g. "[  1] 0.0000-5.0001 sec  3.66 MBytes  10.2 Mbits/sec  60002/0    20001 pps"
  const m = /\d+\.\d+-(\d+\.\d+) sec .*?\s(\d+)\/(\d+)\s+(\d+) pps/.exec(out);
  const sentLine = /Sent (\d+) datagrams/.exec(out);
  if (!m) throw new Error(`no result in the iperf client's output:\n${out.trim().split("\n").slice(-5).join("\n")}`);
  const secs = Number(m[1]);
  const delivered = arrived(d1) - arrived(d0);
  const udpOut = s1.OutDatagrams! - s0.OutDatagrams!;
  // With several flows each thread reports its own line: count what the sender's stack sent instead.
  const sent = flows > 1 ? udpOut : sentLine ? Number(sentLine[1]) : Number(m[2]);
  const per = (ticks: number) => (delivered > 0 ? (ticks * TICK_US) / delivered : null);

  // iperf server's total: the last "lost/total" line of its report.
  const srvOut = readFileSync(srvLog, "utf8");
  const totals = [...srvOut.matchAll(/(\d+)\/(\d+) \(/g)].at(-1);
  const pdf = srvOut.split("\n").filter((l) => l.includes("PDF:")).at(-1);
  return {
    variant: v.name,
    size,
    rate,
    sent,
    seconds: secs,
    offeredPps: flows > 1 ? udpOut / secs : Number(m[4]),
    delivered,
    deliveredPps: delivered / secs,
    deliveredPct: udpOut > 0 ? (100 * delivered) / udpOut : 0,
    receiverDrops: d1.RcvbufErrors! - d0.RcvbufErrors!,
    udpOut,
    relayCpuUs: v.name === "kernel" ? null : per(r1 - r0),
    softirqUs: per(m1.softirq - m0.softirq),
    machineUs: per(m1.busy - m0.busy),
    iperfServer: totals ? { received: Number(totals[2]) - Number(totals[1]), lost: Number(totals[1]) } : null,
    latency: pdf && flows === 1 ? parseHistogram(pdf) : null, // per-flow histograms are not merged
  };
}
