// The bench:link section of docs/PERFORMANCE.md: method, the goal and whether it is met, tables.
import { GOAL, latencyTable, lossFreeTable, tcpTable, udpTables, verdict, type Results } from "./report.ts";

export interface Meta {
  command: string;
  date: string;
  kernel: string;
  cpu: string;
  bun: string;
  iperf: string;
  options: { seconds: number; searchSteps: number; pings: number; workers: number | null; rates: (number | null)[] };
  loadAverage1m: { start: number; end: number };
  elapsedSeconds: number;
}

export function linkSection(meta: Meta, r: Results, errors: Record<string, string>, notes: string, file: string): string {
  const o = meta.options;
  const failed = Object.entries(errors).map(([v, e]) => `- **${v}** did not finish: ${e.split("\n")[0]}`).join("\n");
  return `\`${meta.command}\` — ${meta.date.slice(0, 16).replace("T", " ")} UTC; Linux ${meta.kernel}; ${meta.cpu}; Bun ${meta.bun};
${meta.iperf}; ${o.seconds} s per trial; took ${Math.round(meta.elapsedSeconds / 60)} min; 1-min load average ${meta.loadAverage1m.start} at the start,
${meta.loadAverage1m.end} at the end (a shared, noisy 2-core VM: sender, middle and receiver share both cores).

Method:
- Three network namespaces, \`left —veth— middle —veth— right\`, left 198.18.60.1/24 and right 198.18.60.2/24 in one
  subnet; middle has no address and no IP forwarding. **bridge**: \`ip link add br0 type bridge\` in middle (STP off, so the
  ports forward at once), both veth ends enslaved. **mcrelay**: \`mcrelay start --config … --no-api\`${o.workers ? ` --workers ${o.workers}` : ""} in middle with one link,
  \`{"links":[{"name":"bench","a":…,"b":…}]}\`, defaults (${o.workers ? `${o.workers} worker pair(s)` : "a worker pair per CPU"}, no impairment); every frame, ARP included, crosses through it.
- Offloads: **bridge** and **mcrelay** leave the veths as the kernel makes them (tx checksum, TSO and GSO on, GRO off):
  TCP leaves left in super-frames of up to 64 KiB, which the bridge forwards as they are and the link carries whole
  (read with a virtio_net_hdr, sent with it). **-nooffload**: \`ethtool -K … tx off tso off gso off gro off\` on all four
  veth ends, so every frame on the wire is at most 1,514 bytes and checksums are computed in software. What was in
  force (read back with \`ethtool -k\`) is in the results file.
- *TCP*: \`iperf -s\` in right, \`iperf -c right -P N -t ${o.seconds}\` in left; Gbit/s is iperf's goodput ([SUM] with several
  streams). *Retransmits*: left's \`Tcp: RetransSegs\`. *Frames* and their mean size: middle's veth towards right, what it sent
  (an offloaded super-frame counts once). *Relay cores*: utime+stime of mcrelay's whole process tree ÷ the trial's wall
  time; per frame: ÷ the frames middle sent both ways (ACKs included). The bridge has no process: it forwards in softirq,
  which the machine-wide softirq column holds (with the sender's and receiver's: an upper bound).
- *UDP*: iperf 2 in left sends to right at ${o.rates.filter((x) => x !== null).map((x) => `${x / 1000}k`).join(", ")} pps and as fast as it can (*max*). *Delivered*: datagrams
  that reached right's UDP layer (\`InDatagrams + RcvbufErrors\`, so a slow receiver does not count against the path) ÷ the
  datagrams left's UDP layer sent. Highest loss-free rate (< 0.1 % loss): the rates, then ${o.searchSteps} bisection steps between
  the highest loss-free and the lowest lossy offered rate. One-way latency from iperf's trip times (1 µs bins).
- *Latency*: ${o.pings} pings, one every 2 ms, left → right, on the otherwise idle path before the load; percentiles of every reply's RTT.
  *Added*: the variant's minus the bridge's with the same offloads.
- Relay drops: mcrelay's own counters of the link (and its workers') that moved during a trial. *Relay waited for a
  CPU*: of mcrelay's processes, the one whose main thread (a worker's loop) waited longest runnable on a run queue
  during the trial (schedstat's run delay): how much CPU the rest of the machine left it. The bridge forwards in the sender's own
  softirq (veth → bridge → veth in one call), so it never waits and never drops here: it slows the sender instead,
  and its loss-free rate is the sender's.

**Goal** (the issue): mcrelay's TCP with offloads off ≥ ${GOAL.ratio}× the bridge with offloads off, and ≥ ${GOAL.gbps} Gbit/s absolute
(the Rush/synthetic-network figure: 1,490-byte frames on one core).

${verdict(r).text}
${failed ? `\n${failed}\n` : ""}
**TCP, left → right**

${tcpTable(r)}

**Round-trip time, idle path** (ping)

${latencyTable(r)}

**UDP, highest loss-free rate (< 0.1 % loss), offered pps**

${lossFreeTable(r)}

${udpTables(r)}
${notes ? `${notes}\n\n` : ""}Raw data: \`bench/results/${file.split("/").pop()}\`.`;
}
