// From the configured rules and the interfaces that exist now, what the data plane should run:
// which rules are active (with their numbers), which inputs to open, which groups to join.
import { parseIpv4 } from "../../rules/ipv4.ts";
import { ruleId } from "../../rules/load.ts";
import type { Impairment, Rule } from "../../rules/schema.ts";
import type { Link } from "./links.ts";

export interface PlannedOutput {
  /** Identifies the egress socket; it includes the interface's address so a change rebinds. */
  key: string;
  ifname: string;
  ifindex: number;
  src: string;
  addr: number;
  port: number;
  ttl: number;
  /** the socket's code point (0 when the packet's own is preserved) */
  dscp: number;
  /** copy each input packet's DSCP */
  preserve: boolean;
}

export interface PlannedRule {
  no: number;
  id: string;
  name?: string;
  /** active: forwarding; waiting: an interface is missing; down: its input, or every output, is down */
  state: "active" | "waiting" | "down";
  /** why a rule waits, is down, or forwards on fewer outputs */
  reason?: string;
  ifname: string;
  ifindex: number;
  group: number;
  port: number;
  source: number;
  /** share of packets traced */
  sample: number;
  impairment?: Impairment;
  outputs: PlannedOutput[];
}

export interface Plan {
  rules: PlannedRule[];
  /** input interface -> ifindex: inputs that are up and used by a rule that is not waiting */
  inputs: Map<string, number>;
}

/** Hands out rule numbers (counter slots in shm) that stay with a rule id for the process's life. */
export class RuleNumbers {
  private readonly byId = new Map<string, number>();
  constructor(private readonly max: number) {}
  of(id: string): number {
    let n = this.byId.get(id);
    if (n === undefined) {
      // Numbers are counter rows in shared memory and are not reused while the relay runs.
      if (this.byId.size >= this.max) throw new Error(`rule numbers exhausted: ${this.max} distinct rules since start (raise --max-rules, or restart)`);
      n = this.byId.size;
      this.byId.set(id, n);
    }
    return n;
  }
}

export function outputKey(o: Omit<PlannedOutput, "key">): string {
  return `${o.ifname}#${o.ifindex}|${o.src}|${o.addr}|${o.port}|${o.ttl}|${o.preserve ? "preserve" : o.dscp}`;
}

export function makePlan(rules: Rule[], numbers: RuleNumbers, links: Map<string, Link>): Plan {
  const inputs = new Map<string, number>();
  const planned = rules.map((r): PlannedRule => {
    const input = links.get(r.input.interface);
    const all = r.outputs.map((o) => {
      const l = links.get(o.interface);
      const preserve = o.dscp === "preserve";
      const out = { ifname: o.interface, ifindex: l?.ifindex ?? 0, src: l?.addr ?? "", addr: parseIpv4(o.group)!, port: o.port, ttl: o.ttl,
        dscp: preserve ? 0 : (o.dscp as number), preserve };
      return { ...out, key: outputKey(out), up: l?.up ?? false };
    });
    const p: PlannedRule = {
      no: numbers.of(ruleId(r)), id: ruleId(r), name: r.name, state: "active",
      ifname: r.input.interface, ifindex: input?.ifindex ?? 0, group: parseIpv4(r.input.group)!, port: r.input.port,
      source: r.input.source ? parseIpv4(r.input.source)! : 0, sample: r.traceSampleRatio, impairment: r.impairment,
      outputs: all.filter((o) => o.up).map(({ up: _up, ...o }) => o),
    };
    const missing = [...new Set([r.input.interface, ...r.outputs.map((o) => o.interface)].filter((n) => !links.has(n)))];
    const downOuts = all.filter((o) => !o.up && links.has(o.ifname)).map((o) => o.ifname);
    if (missing.length) {
      p.state = "waiting";
      p.reason = `waiting for interface${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`;
    } else if (!input!.up) {
      p.state = "down";
      p.reason = `input ${p.ifname} is down`;
    } else if (p.outputs.length === 0) {
      p.state = "down";
      p.reason = `every output is down (${[...new Set(downOuts)].join(", ")})`;
    } else if (downOuts.length) {
      p.reason = `output${downOuts.length > 1 ? "s" : ""} ${[...new Set(downOuts)].join(", ")} down: forwarding on the others`;
    }
    if (p.state !== "waiting" && input!.up) inputs.set(p.ifname, p.ifindex);
    return p;
  });
  return { rules: planned, inputs };
}
