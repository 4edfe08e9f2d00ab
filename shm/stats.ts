// Reads a running relay's counters straight from its segment, the way any tool may (Snabb-style):
// no request to the relay, no lock. Rule numbers and names come from whoever asks (status.json).
import { DROP_REASONS } from "./counters.ts";
import { EGRESS_COUNTERS, EGRESS_RULE_FIELDS, INGRESS_COUNTERS, INGRESS_RULE_FIELDS } from "./layout.ts";
import type { Segment } from "./segment.ts";
import { snapshot } from "./counters.ts";

export interface RuleStats {
  no: number;
  id: string;
  name?: string;
  state: string;
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  /** extra copies sent by a duplicate stage */
  duplicated: number;
  drops: { poolExhausted: number; ringFull: number; oversize: number; down: number; sendErrors: number; impaired: number };
}

export interface Stats {
  workers: { index: number; ingress: Record<string, number>; egress: Record<string, number> }[];
  drops: Record<string, number>;
  rules: RuleStats[];
}

export type RuleMeta = { no: number; id: string; name?: string; state: string };

/** Counters of every worker and of the given rules (their numbers come from the supervisor). */
export function collectStats(seg: Segment, ruleMeta: RuleMeta[]): Stats {
  const l = seg.layout;
  const workers = l.pairs.map((pl, index) => ({
    index,
    ingress: snapshot(new Float64Array(seg.buf, pl.ingressCounters, INGRESS_COUNTERS.length), INGRESS_COUNTERS) as Record<string, number>,
    egress: snapshot(new Float64Array(seg.buf, pl.egressCounters, EGRESS_COUNTERS.length), EGRESS_COUNTERS) as Record<string, number>,
  }));
  const drops: Record<string, number> = {};
  for (const r of DROP_REASONS) drops[r] = workers.reduce((a, w) => a + w.ingress[`drop_${r}`], 0);
  for (const k of ["poolExhausted", "ringFull", "kernelDrops"] as const) drops[k] = workers.reduce((a, w) => a + w.ingress[k], 0);
  drops.sendErrors = workers.reduce((a, w) => a + w.egress.sendErrors, 0);
  const ni = INGRESS_RULE_FIELDS.length;
  const ne = EGRESS_RULE_FIELDS.length;
  const rules = ruleMeta.map((r) => {
    const s: RuleStats = { no: r.no, id: r.id, name: r.name, state: r.state, rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, duplicated: 0,
      drops: { poolExhausted: 0, ringFull: 0, oversize: 0, down: 0, sendErrors: 0, impaired: 0 } };
    for (const pl of l.pairs) {
      const i = new Float64Array(seg.buf, pl.ingressRules + 8 * ni * r.no, ni);
      const e = new Float64Array(seg.buf, pl.egressRules + 8 * ne * r.no, ne);
      s.rxPackets += i[0]; s.rxBytes += i[1]; s.drops.poolExhausted += i[2]; s.drops.ringFull += i[3]; s.drops.oversize += i[4]; s.drops.down += i[5];
      s.txPackets += e[0]; s.txBytes += e[1]; s.drops.sendErrors += e[2]; s.drops.impaired += e[3]; s.duplicated += e[4];
    }
    return s;
  });
  return { workers, drops, rules };
}
