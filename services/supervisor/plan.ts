// From the configured rules and the interfaces that exist now, what the data plane should run:
// which rules are active (with their numbers), which inputs to open, which groups to join.
import { parseIpv4 } from "../../rules/ipv4.ts";
import { ruleId } from "../../rules/load.ts";
import type { Rule } from "../../rules/schema.ts";

export interface PlannedOutput {
  key: string;
  ifname: string;
  ifindex: number;
  addr: number;
  port: number;
  ttl: number;
  dscp: number;
}

export interface PlannedRule {
  no: number;
  id: string;
  name?: string;
  state: "active" | "waiting";
  /** why a rule waits */
  reason?: string;
  ifname: string;
  ifindex: number;
  group: number;
  port: number;
  source: number;
  outputs: PlannedOutput[];
}

export interface Plan {
  rules: PlannedRule[];
  /** input interface -> ifindex, for the active rules */
  inputs: Map<string, number>;
}

/** Hands out rule numbers (counter slots in shm) that stay with a rule id for the process's life. */
export class RuleNumbers {
  private readonly byId = new Map<string, number>();
  constructor(private readonly max: number) {}
  of(id: string): number {
    let n = this.byId.get(id);
    if (n === undefined) {
      if (this.byId.size >= this.max) throw new Error(`more than ${this.max} rules`);
      n = this.byId.size;
      this.byId.set(id, n);
    }
    return n;
  }
}

export function outputKey(o: Omit<PlannedOutput, "key">): string {
  return `${o.ifname}|${o.addr}|${o.port}|${o.ttl}|${o.dscp}`;
}

export function makePlan(rules: Rule[], numbers: RuleNumbers, ifIndex: (n: string) => number): Plan {
  const inputs = new Map<string, number>();
  const planned = rules.map((r): PlannedRule => {
    const ifindex = ifIndex(r.input.interface);
    const outputs = r.outputs.map((o) => {
      const out = { ifname: o.interface, ifindex: ifIndex(o.interface), addr: parseIpv4(o.group)!, port: o.port, ttl: o.ttl, dscp: o.dscp };
      return { ...out, key: outputKey(out) };
    });
    const missing = [r.input.interface, ...outputs.filter((o) => o.ifindex === 0).map((o) => o.ifname)].filter(
      (n, i) => i > 0 || ifindex === 0,
    );
    const p: PlannedRule = {
      no: numbers.of(ruleId(r)), id: ruleId(r), name: r.name, state: missing.length ? "waiting" : "active",
      ifname: r.input.interface, ifindex, group: parseIpv4(r.input.group)!, port: r.input.port,
      source: r.input.source ? parseIpv4(r.input.source)! : 0, outputs,
    };
    if (missing.length) p.reason = `waiting for interface${missing.length > 1 ? "s" : ""} ${[...new Set(missing)].join(", ")}`;
    else inputs.set(p.ifname, ifindex);
    return p;
  });
  return { rules: planned, inputs };
}
