// `stats`: counters and rates per rule and per worker, from the API, or, with no API to ask,
// straight from the relay's shared memory (any local tool may read it).
import { readStatus } from "../services/protocol/status.ts";
import { RateSampler } from "../shm/rates.ts";
import { openSegment } from "../shm/segment.ts";
import { collectStats } from "../shm/stats.ts";
import { statsBody, type StatsBody } from "../services/protocol/stats.ts";
import { ApiError, CliError, UsageError } from "./errors.ts";
import { Client, ResolveError, UnreachableError, resolveTarget } from "./client.ts";
import { print, printJson, table } from "./format.ts";
import { connectOpts, parse } from "./options.ts";

type Drops = Record<string, number>;

/** Rates need two samples: this many ms apart when reading shared memory. */
const SHM_WINDOW_MS = 1000;

async function fromShm(stateDir: string): Promise<StatsBody> {
  const st = readStatus(stateDir);
  if (!st) throw new CliError(`no relay runs with --state-dir ${stateDir} (no status.json)`);
  const seg = openSegment(st.shm);
  const sampler = new RateSampler(() => seg, () => st.rules);
  sampler.sample();
  await Bun.sleep(SHM_WINDOW_MS);
  sampler.sample();
  return statsBody(collectStats(seg, st.rules, st.links ?? []), sampler.rates);
}

const nonZero = (d: Drops) => Object.entries(d).filter(([, n]) => n > 0);
const sum = (d: Drops) => Object.values(d).reduce((a, n) => a + n, 0);
const rate = (n: number) => Math.round(n);

export function statsTables(s: StatsBody): string {
  const rules = s.rules.length
    ? table(["NAME/ID", "STATE", "RX PKTS", "TX PKTS", "TX BYTES", "RX PPS", "TX PPS", "DROPS"],
      s.rules.map((r) => [r.name ?? r.id, r.state, r.rxPackets, r.txPackets, r.txBytes, rate(r.rxPps), rate(r.txPps), sum(r.drops)]),
      ["l", "l", "r", "r", "r", "r", "r", "r"])
    : "no rules";
  const drops = [
    ...s.rules.filter((r) => sum(r.drops) > 0).map((r) => `  ${r.name ?? r.id}: ${nonZero(r.drops).map(([k, n]) => `${k} ${n}`).join(", ")}`),
    ...s.rules.flatMap((r) => r.outputStats.filter((o) => sum(o.drops) > 0)
      .map((o) => `  ${r.name ?? r.id} output ${o.index}: ${nonZero(o.drops).map(([k, n]) => `${k} ${n}`).join(", ")}`)),
    ...(nonZero(s.drops).length ? [`  all workers: ${nonZero(s.drops).map(([k, n]) => `${k} ${n}`).join(", ")}`] : []),
  ];
  // a redundant rule's paths: what each brought and missed
  const red = s.rules.filter((r) => r.pathStats?.length);
  const paths = red.length
    ? table(["NAME/ID", "PATH", "STATE", "PACKETS", "FIRST", "DUPLICATES", "REPAIRED", "LOST", "LATE", "MAX LAG MS"],
      red.flatMap((r) => r.pathStats!.map((p) => [r.name ?? r.id, p.index, p.up ? "up" : "silent", p.packets, p.unique, p.duplicates, p.repaired, p.lost, p.late, p.maxLagMs])),
      ["l", "r", "l", "r", "r", "r", "r", "r", "r", "r"])
    : "";
  const workers = table(["WORKER", "RX PPS", "TX PPS", "FRAMES", "MATCHED", "SENT", "SEND ERRORS", "KERNEL DROPS", "FREE SLOTS", "IN FLIGHT"],
    s.workers.map((w) => [w.index, rate(w.rxPps), rate(w.txPps), w.ingress.frames, w.ingress.matched, w.egress.completions,
      w.egress.drop_send_error, w.ingress.drop_kernel_ring_full, w.ingress.freeSlots, w.egress.inflight]),
    ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r"]);
  return [rules, ...(paths ? ["", "redundant paths:", paths] : []), ...(drops.length ? ["", "drops:", ...drops] : []), "", workers].join("\n");
}

export async function stats(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {});
  if (positionals.length) throw new UsageError(`stats takes no arguments, got "${positionals[0]}"`);
  const o = connectOpts(v);
  let body: StatsBody | null = null;
  let why = "";
  try {
    body = await new Client(resolveTarget(o)).request<StatsBody>("GET", "/api/v1/stats");
  } catch (e) {
    // A wrong token is the user's to fix; only a missing or silent API makes shared memory the answer.
    if (!(e instanceof ResolveError || e instanceof UnreachableError || (e instanceof ApiError && e.status === 503))) throw e;
    why = e.message;
  }
  const source = body ? "api" : "shm";
  if (!body) {
    try {
      body = await fromShm(o.stateDir);
    } catch (e) {
      const indent = (t: string) => t.split("\n").join("\n  ");
      throw new CliError(`no counters from the API nor from shared memory:\n  API: ${indent(why)}\n  shared memory: ${(e as Error).message}`);
    }
  }
  if (v.json) return (await printJson({ source, ...body }), 0);
  await print((source === "shm" ? "(read from shared memory)\n" : "") + statsTables(body));
  return 0;
}
