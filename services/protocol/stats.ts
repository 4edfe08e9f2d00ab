// The stats body: what GET /api/v1/stats returns, what the dashboard's events carry and what
// `mcrelay stats` prints. Every counter field and drop reason comes from shm/layout.ts; the
// OpenAPI document shows these same schemas, and the API returns values parsed by them.
import { z } from "zod";
import { EGRESS_COUNTERS, INGRESS_COUNTERS, PATH_COUNTERS, RULE_DROP_REASONS, WORKER_DROP_REASONS, DROP_REASONS } from "../../shm/layout.ts";
import type { Rates } from "../../shm/rates.ts";
import { OUTPUT_DROP_REASONS, type Stats } from "../../shm/stats.ts";
import { RULE_STATES } from "./status.ts";

/** {name: number} for each name, in order. */
const counters = <const N extends readonly string[]>(names: N, describe?: (n: N[number]) => string) =>
  z.strictObject(Object.fromEntries(names.map((n) => [n, describe ? z.number().describe(describe(n)) : z.number()])) as { [K in N[number]]: z.ZodNumber });

const why = (r: keyof typeof DROP_REASONS) => DROP_REASONS[r];

export const ratesSchema = z.strictObject({
  rxPps: z.number().describe("packets per second received and matched, over the last window"),
  txPps: z.number().describe("packets per second sent (one per output)"),
  rxBps: z.number().describe("payload bits per second received"),
  txBps: z.number().describe("payload bits per second sent"),
  latencyP50Us: z.number().nullable().describe("relay latency (the frame's kernel receive stamp to its last send's completion) over the last window, median, µs: estimated within a bucket of mcrelay_rule_latency_seconds; null when nothing was sent"),
  latencyP99Us: z.number().nullable().describe("the same, 99th percentile, µs"),
});

export const outputStatsSchema = z.strictObject({
  index: z.number().int().describe("the output's place in the rule's outputs (0-based)"),
  txPackets: z.number().describe("datagrams sent to this output"),
  txBytes: z.number().describe("their payload bytes"),
  drops: counters(OUTPUT_DROP_REASONS, why).describe("copies for this output lost, by reason"),
}).meta({ id: "OutputStats" });

const PATH_HELP: Record<(typeof PATH_COUNTERS)[number], string> = {
  packets: "packets that came on this path",
  unique: "of them, the first with their sequence number (what this path contributed)",
  duplicates: "copies of a number already there (dropped)",
  repaired: "numbers this path missed that another path brought",
  lost: "numbers this path missed that no path brought",
  late: "copies that came after the merge had passed their number (dropped)",
  up: "1 while the path brings packets, 0 once it has been silent for silentMs",
  silences: "times the path went silent",
  maxLagMs: "the most one of its copies came after the first copy of its number, in ms (windowMs must cover it)",
};

export const pathStatsSchema = z.strictObject({
  index: z.number().int().describe("the path's place in the rule's inputs (0-based)"),
  ...Object.fromEntries(PATH_COUNTERS.map((n) => [n, z.number().describe(PATH_HELP[n])])) as { [K in (typeof PATH_COUNTERS)[number]]: z.ZodNumber },
}).meta({ id: "PathStats" });

export const ruleStatsSchema = z.strictObject({
  no: z.number().int().describe("the rule's counter row in shared memory"),
  id: z.string(),
  name: z.string().optional(),
  state: z.enum(RULE_STATES),
  rxPackets: z.number(),
  rxBytes: z.number(),
  txPackets: z.number().describe("one per output the packet was sent to"),
  txBytes: z.number(),
  duplicated: z.number().describe("extra copies sent by a duplicate stage"),
  sequenceLost: z.number().describe("a redundant rule's sequence numbers that no path brought (0 for other rules)"),
  drops: counters(RULE_DROP_REASONS, why).describe("the rule's packets lost, by reason"),
  outputStats: z.array(outputStatsSchema).describe("per output (those with a counter row: all but beyond 2 × --max-rules outputs in all)"),
  pathStats: z.array(pathStatsSchema).optional().describe("a redundant rule's inputs (paths), in order"),
  ...ratesSchema.shape,
}).meta({ id: "RuleStats" });

const channelCounts = {
  rxPackets: z.number().describe("frames received on the way's input end"),
  rxBytes: z.number().describe("their bytes (with a 10-byte virtio_net_hdr each)"),
  txPackets: z.number().describe("frames sent on the far end"),
  txBytes: z.number(),
  duplicated: z.number().describe("extra copies sent by a duplicate stage"),
  sequenceLost: z.number().describe("always 0 for a link"),
  drops: counters(RULE_DROP_REASONS, why).describe("frames lost, by reason (impairment: dropped by the settings)"),
};

export const linkWayStatsSchema = z.strictObject({
  ...channelCounts,
  flows: z.array(z.strictObject({ name: z.string(), ...channelCounts })).describe("each flow's frames (not in the way's own counters above)"),
}).meta({ id: "LinkWayStats" });

export const linkStatsSchema = z.strictObject({
  id: z.string(),
  name: z.string().optional(),
  state: z.enum(RULE_STATES),
  aToB: linkWayStatsSchema.describe("frames received on a, sent on b"),
  bToA: linkWayStatsSchema.describe("frames received on b, sent on a"),
}).meta({ id: "LinkStats" });

export const workerStatsSchema = z.strictObject({
  index: z.number().int(),
  ingress: counters(INGRESS_COUNTERS).describe("the ingress process's counters (drop_<reason>: losses of that reason)"),
  egress: counters(EGRESS_COUNTERS).describe("the egress process's counters"),
  rxPps: z.number(),
  txPps: z.number(),
  ingressUtilisation: z.number().describe("share of the last window the ingress loop was not asleep (0–1)"),
  egressUtilisation: z.number(),
}).meta({ id: "WorkerStats" });

export const statsSchema = z.strictObject({
  rules: z.array(ruleStatsSchema),
  links: z.array(linkStatsSchema),
  workers: z.array(workerStatsSchema),
  drops: counters(WORKER_DROP_REASONS, why).describe("every loss of every worker, by reason"),
  windowSeconds: z.number().describe("the window the rates are computed over"),
}).meta({ id: "Stats" });

export type StatsBody = z.infer<typeof statsSchema>;
export type RuleStatsBody = z.infer<typeof ruleStatsSchema>;
export type WorkerStatsBody = z.infer<typeof workerStatsSchema>;

export const ZERO_RATES = { rxPps: 0, txPps: 0, rxBps: 0, txBps: 0, latencyP50Us: null, latencyP99Us: null } as const;
export const ZERO_WORKER_RATES = { rxPps: 0, txPps: 0, ingressUtilisation: 0, egressUtilisation: 0 } as const;

/** The body from counters and their rates (a rule or worker without a rate yet has zeros). */
export function statsBody(s: Stats, rates: Rates): StatsBody {
  return {
    rules: s.rules.map((r) => ({ ...r, state: r.state as RuleStatsBody["state"], ...(rates.rules[r.id] ?? ZERO_RATES) })),
    links: s.links.map((l) => ({ ...l, state: l.state as RuleStatsBody["state"] })),
    workers: s.workers.map((w) => {
      const r = rates.workers.find((x) => x.index === w.index);
      return { ...w, ...(r ? { rxPps: r.rxPps, txPps: r.txPps, ingressUtilisation: r.ingressUtilisation, egressUtilisation: r.egressUtilisation } : ZERO_WORKER_RATES) };
    }),
    drops: s.drops,
    windowSeconds: rates.windowSeconds,
  };
}
