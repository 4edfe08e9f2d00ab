// One trial: iperf 2 sends for some seconds at a rate; the receiving namespace's UDP counters say
// how many copies arrived (each input datagram should arrive `copies` times).
import { readFileSync, rmSync } from "node:fs";
import { machineTicks, start, stop, TICK_US, udpCounters } from "../relay/proc.ts";
import { exec } from "../relay/topology.ts";
import type { Running } from "./relays.ts";

/** A rate iperf cannot reach: it then sends as fast as it can. */
const MAX_PPS = 100_000_000;

export interface Trial {
  relay: string;
  /** outputs (copies per input datagram) */
  n: number;
  size: number;
  /** requested input pps; null: as fast as the sender can */
  rate: number | null;
  sent: number;
  seconds: number;
  /** input pps the sender achieved, and × n */
  offeredPps: number;
  offeredOutPps: number;
  delivered: number;
  deliveredPps: number;
  deliveredPct: number;
  /** relay processes' CPU per delivered copy, µs (not for the kernel: it forwards in softirq) */
  relayCpuUs: number | null;
  /** the whole machine's softirq time per delivered copy, µs (sender and receiver included) */
  softirqUs: number | null;
}

export interface TrialSpec {
  relay: string;
  n: number;
  src: { ns: string; pid: number; addr: string };
  dstPid: number;
  group: string;
  port: number;
  ttl: number;
  size: number;
  rate: number | null;
  seconds: number;
  log: string;
  /** the input as this many flows (one iperf each, source ports 6000 + i, rate / flows each): what
   *  PACKET_FANOUT_HASH spreads over worker pairs; 1: one flow from an unbound port */
  flows?: number;
}

const arrived = (c: Record<string, number>) => c.InDatagrams! + c.RcvbufErrors! + (c.IgnoredMulti ?? 0);

export async function runTrial(s: TrialSpec, relay: Running): Promise<Trial> {
  rmSync(s.log, { force: true });
  const d0 = udpCounters(s.dstPid), s0 = udpCounters(s.src.pid), m0 = machineTicks(), r0 = relay.cpuTicks();
  const flows = s.flows ?? 1;
  // iperf 2 refuses -P with a multicast destination: a process per flow. The first one's report is read.
  const clis = Array.from({ length: flows }, (_, i) => start(exec(s.src.ns, ["iperf", "-u", "-c", s.group, "-p", String(s.port),
    "-B", flows > 1 ? `${s.src.addr}:${6000 + i}` : s.src.addr, "-T", String(s.ttl), "-l", String(s.size),
    "-b", `${Math.round((s.rate ?? MAX_PPS) / flows)}pps`, "-t", String(s.seconds), "-e"]), i === 0 ? { log: s.log } : {}));
  const cli = clis[0]!;
  const inTime = await Promise.race([Promise.all(clis.map((c) => c.exited)).then(() => true), Bun.sleep((s.seconds + 15) * 1000).then(() => false)]);
  if (!inTime) for (const c of clis) await stop(c, "SIGKILL", 1000);
  await Bun.sleep(300); // let queues drain
  const d1 = udpCounters(s.dstPid), s1 = udpCounters(s.src.pid), m1 = machineTicks(), r1 = relay.cpuTicks();
  const out = readFileSync(s.log, "utf8");
  const m = /\d+\.\d+-(\d+\.\d+) sec .*?\s(\d+)\/(\d+)\s+(\d+) pps/.exec(out);
  if (!m) throw new Error(`no result in the iperf client's output:\n${out.trim().split("\n").slice(-5).join("\n")}`);
  const secs = Number(m[1]);
  const udpOut = s1.OutDatagrams! - s0.OutDatagrams!;
  const delivered = arrived(d1) - arrived(d0);
  const per = (ticks: number) => (delivered > 0 ? (ticks * TICK_US) / delivered : null);
  return {
    relay: s.relay, n: s.n, size: s.size, rate: s.rate, sent: udpOut, seconds: secs,
    offeredPps: udpOut / secs, offeredOutPps: (udpOut * s.n) / secs,
    delivered, deliveredPps: delivered / secs, deliveredPct: udpOut > 0 ? (100 * delivered) / (udpOut * s.n) : 0,
    relayCpuUs: s.relay === "kernel" ? null : per(r1 - r0), softirqUs: per(m1.softirq - m0.softirq),
  };
}

/** Starts bench/fanout/members.ts in a namespace with the memberships; ready when it says so. */
export async function members(ns: string, repo: string, pairs: string[], log: string) {
  rmSync(log, { force: true });
  const p = start(exec(ns, [`${repo}/node_modules/.bin/bun`, `${repo}/bench/fanout/members.ts`, ...pairs]), { log });
  const until = Date.now() + 10_000;
  const text = () => { try { return readFileSync(log, "utf8"); } catch { return ""; } };
  while (!text().includes("ready")) {
    if (p.exitCode !== null || Date.now() > until) throw new Error(`members did not start: ${text()}`);
    await Bun.sleep(20);
  }
  return { stop: () => stop(p) };
}
