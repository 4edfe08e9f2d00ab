// Reads a running relay's counters straight from its segment, the way any tool may (Snabb-style):
// no request to the relay, no lock. Rule numbers and names come from whoever asks (status.json).
// Every field and drop reason here is derived from the counter names in layout.ts.
import { snapshot } from "./counters.ts";
import {
  EGRESS_COUNTERS, EGRESS_RULE_COUNTERS, INGRESS_COUNTERS, INGRESS_RULE_COUNTERS, MAX_PATHS, OUTPUT_COUNTERS, PATH_COUNTERS, RULE_DROP_REASONS, WORKER_DROP_REASONS,
  type DropReason, type RuleDropReason,
} from "./layout.ts";
import type { Segment } from "./segment.ts";

type Traffic<C extends string> = Exclude<C, `drop_${string}`>;
/** The rule's traffic counters (rxPackets, txBytes, duplicated, …) summed over workers. */
type RuleTraffic = Record<Traffic<(typeof INGRESS_RULE_COUNTERS)[number] | (typeof EGRESS_RULE_COUNTERS)[number]>, number>;

type OutputDropReason = (typeof OUTPUT_COUNTERS)[number] extends infer C ? C extends `drop_${infer R}` ? R : never : never;
/** OUTPUT_COUNTERS' reasons, in order. */
export const OUTPUT_DROP_REASONS = OUTPUT_COUNTERS.filter((n) => n.startsWith("drop_")).map((n) => n.slice(5)) as OutputDropReason[];

/** One output of a rule (by its place in the rule's outputs), summed over workers. */
export type OutputStats = Record<Traffic<(typeof OUTPUT_COUNTERS)[number]>, number> & {
  index: number;
  drops: Record<OutputDropReason, number>;
};

/** One path (input) of a redundant rule, by its place in the rule's inputs: PATH_COUNTERS, summed
 *  over workers (one egress merges the rule, so `up` is that one's). */
export type PathStats = Record<(typeof PATH_COUNTERS)[number], number> & { index: number };

export type RuleStats = RuleTraffic & {
  no: number;
  id: string;
  name?: string;
  state: string;
  drops: Record<RuleDropReason, number>;
  /** the outputs that have a counter row */
  outputStats: OutputStats[];
  /** a redundant rule's paths */
  pathStats?: PathStats[];
};

export interface WorkerStats {
  index: number;
  ingress: Record<(typeof INGRESS_COUNTERS)[number], number>;
  egress: Record<(typeof EGRESS_COUNTERS)[number], number>;
}

export interface Stats {
  workers: WorkerStats[];
  /** every reason, summed over workers */
  drops: Record<DropReason, number>;
  rules: RuleStats[];
  links: LinkStats[];
}

/** One way of a link: its channel's counters (frames no flow took) and each flow's. */
export type LinkWayStats = Omit<RuleStats, "no" | "id" | "name" | "state" | "outputStats"> & { flows: (Omit<RuleStats, "no" | "id" | "name" | "state" | "outputStats"> & { name: string })[] };

export interface LinkStats {
  id: string;
  name?: string;
  state: string;
  aToB: LinkWayStats;
  bToA: LinkWayStats;
}

export type LinkMeta = { id: string; name?: string; state: string; channels: Record<"aToB" | "bToA", { no: number; flows: { name: string; no: number }[] }> };

export type RuleMeta = { no: number; id: string; name?: string; state: string; outputRows?: number[]; paths?: number };

/** Adds a counter row into totals: traffic by name, drop_<reason> into drops. */
function addRow(s: { drops: object }, names: readonly string[], row: Float64Array): void {
  const t = s as unknown as Record<string, number>;
  const d = s.drops as Record<string, number>;
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    if (n.startsWith("drop_")) d[n.slice(5)] += row[i];
    else t[n] += row[i];
  }
}

function emptyRule(r: RuleMeta): RuleStats {
  const s = { no: r.no, id: r.id, ...(r.name !== undefined ? { name: r.name } : {}), state: r.state } as RuleStats;
  for (const n of [...INGRESS_RULE_COUNTERS, ...EGRESS_RULE_COUNTERS]) if (!n.startsWith("drop_")) (s as unknown as Record<string, number>)[n] = 0;
  s.drops = Object.fromEntries(RULE_DROP_REASONS.map((k) => [k, 0])) as RuleStats["drops"];
  s.outputStats = [];
  return s;
}

function emptyOutput(index: number): OutputStats {
  const o = { index, drops: Object.fromEntries(OUTPUT_DROP_REASONS.map((k) => [k, 0])) } as OutputStats;
  for (const n of OUTPUT_COUNTERS) if (!n.startsWith("drop_")) (o as unknown as Record<string, number>)[n] = 0;
  return o;
}

/** Counters of every worker, of the given rules and of the given links' channels (their numbers
 *  come from the supervisor). */
export function collectStats(seg: Segment, ruleMeta: RuleMeta[], linkMeta: LinkMeta[] = []): Stats {
  const l = seg.layout;
  const workers = l.pairs.map((pl, index) => ({
    index,
    ingress: snapshot(new Float64Array(seg.buf, pl.ingressCounters, INGRESS_COUNTERS.length), INGRESS_COUNTERS),
    egress: snapshot(new Float64Array(seg.buf, pl.egressCounters, EGRESS_COUNTERS.length), EGRESS_COUNTERS),
  }));
  const drops = Object.fromEntries(WORKER_DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  for (const w of workers) {
    for (const [k, v] of Object.entries(w.ingress)) if (k.startsWith("drop_")) drops[k.slice(5) as DropReason] += v;
    for (const [k, v] of Object.entries(w.egress)) if (k.startsWith("drop_")) drops[k.slice(5) as DropReason] += v;
  }
  const ni = INGRESS_RULE_COUNTERS.length;
  const ne = EGRESS_RULE_COUNTERS.length;
  const no = OUTPUT_COUNTERS.length;
  const rules = ruleMeta.map((r) => {
    const s = emptyRule(r);
    for (const pl of l.pairs) {
      addRow(s, INGRESS_RULE_COUNTERS, new Float64Array(seg.buf, pl.ingressRules + 8 * ni * r.no, ni));
      addRow(s, EGRESS_RULE_COUNTERS, new Float64Array(seg.buf, pl.egressRules + 8 * ne * r.no, ne));
    }
    (r.outputRows ?? []).forEach((row, index) => {
      if (row < 0) return;
      const o = emptyOutput(index);
      for (const pl of l.pairs) addRow(o, OUTPUT_COUNTERS, new Float64Array(seg.buf, pl.egressOutputs + 8 * no * row, no));
      s.outputStats.push(o);
    });
    if (r.paths) {
      const np = PATH_COUNTERS.length;
      s.pathStats = [...Array(Math.min(r.paths, MAX_PATHS)).keys()].map((index) => {
        const p = { index } as PathStats;
        for (const n of PATH_COUNTERS) p[n] = 0;
        for (const pl of l.pairs) {
          const row = new Float64Array(seg.buf, pl.egressPaths + 8 * np * (r.no * MAX_PATHS + index), np);
          PATH_COUNTERS.forEach((n, i) => (p[n] += row[i]!));
        }
        return p;
      });
    }
    return s;
  });
  const channel = (no: number) => {
    const s = emptyRule({ no, id: "", state: "" });
    for (const pl of l.pairs) {
      addRow(s, INGRESS_RULE_COUNTERS, new Float64Array(seg.buf, pl.ingressRules + 8 * ni * no, ni));
      addRow(s, EGRESS_RULE_COUNTERS, new Float64Array(seg.buf, pl.egressRules + 8 * ne * no, ne));
    }
    const { no: _n, id: _i, state: _s, outputStats: _o, ...counts } = s;
    return counts;
  };
  const way = (c: LinkMeta["channels"]["aToB"]): LinkWayStats => ({ ...channel(c.no), flows: c.flows.map((f) => ({ name: f.name, ...channel(f.no) })) });
  const links = linkMeta.map((m) => ({ id: m.id, ...(m.name !== undefined ? { name: m.name } : {}), state: m.state, aToB: way(m.channels.aToB), bToA: way(m.channels.bToA) }));
  return { workers, drops, rules, links };
}
