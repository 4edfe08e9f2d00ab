// Round-trip time left → right → left on an otherwise idle path: `ping -c N -i 0.002`, every
// reply's time read, percentiles taken here (ping's summary has only min/avg/max/mdev).
import { median } from "../relay/report.ts";
import { run } from "../relay/proc.ts";
import { exec } from "../relay/topology.ts";
import type { LinkTopology } from "./topology.ts";

export interface PingResult {
  sent: number;
  received: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/** The q-quantile of sorted xs, nearest rank. */
export const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;

export function parsePing(out: string): PingResult {
  const times = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
  const sent = Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? 0);
  if (!times.length) return { sent, received: 0, p50Ms: null, p99Ms: null, maxMs: null };
  return { sent, received: times.length, p50Ms: median(times), p99Ms: quantile(times, 0.99), maxMs: times.at(-1)! };
}

export function ping(t: LinkTopology, count: number, intervalS = 0.002): PingResult {
  // -W 1: a reply later than 1 s counts as lost; ping's own exit status (1 if any was lost) is not an error here.
  return parsePing(run(exec(t.left.name, ["ping", "-n", "-c", String(count), "-i", String(intervalS), "-W", "1", t.addr.right]), { allowFail: true }));
}

/** Waits until right answers (ARP through whatever is in middle, ports forwarding). */
export async function reachable(t: LinkTopology, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (ping(t, 1, 0.2).received === 0) {
    if (Date.now() > until) throw new Error(`${t.addr.right} did not answer from left within ${ms / 1000} s`);
    await Bun.sleep(100);
  }
}
