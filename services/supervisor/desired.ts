// The rules the supervisor is to run: the file's at start, then what the API sends. Every change
// is checked whole before any of it is taken: each rule against the schema again (trust no peer),
// ids, names and inputs unique, a rule number free for every new rule, and what only this host
// can tell (an output that is its interface's broadcast address never opens).
import { inputKey, ruleId } from "../../rules/load.ts";
import { formatIpv4, parseIpv4 } from "../../rules/ipv4.ts";
import { ruleSchema, type Rule } from "../../rules/schema.ts";
import type { ControlIssue } from "../protocol/control.ts";
import type { Netdev } from "./netdevs.ts";
import type { RuleNumbers } from "./numbers.ts";

export type IdentifiedRule = Rule & { id: string };

export class DesiredRules {
  private readonly rules = new Map<string, IdentifiedRule>();

  /** In the order they were added. */
  list(): IdentifiedRule[] {
    return [...this.rules.values()];
  }

  get size(): number {
    return this.rules.size;
  }

  has(id: string): boolean {
    return this.rules.has(id);
  }

  get(id: string): IdentifiedRule | undefined {
    return this.rules.get(id);
  }

  /**
   * What would be wrong with the set after putting `put` (by id) and deleting `del`; nothing is
   * changed. Returns the rules as parsed, or the issues.
   */
  check(put: unknown[], del: string[], numbers: RuleNumbers, netdevs: Map<string, Netdev>): { rules: IdentifiedRule[] } | { issues: ControlIssue[] } {
    const issues: ControlIssue[] = [];
    const parsed: IdentifiedRule[] = [];
    put.forEach((raw, i) => {
      const r = ruleSchema.safeParse(raw);
      const id = (raw as { id?: unknown })?.id;
      if (!r.success) {
        for (const x of r.error.issues) issues.push({ id: typeof id === "string" ? id : `#${i}`, path: x.path.map((p) => (typeof p === "number" ? p : String(p))), message: x.message });
        return;
      }
      parsed.push({ ...r.data, id: ruleId(r.data) });
    });
    if (issues.length) return { issues };
    const after = new Map(this.rules);
    for (const id of del) after.delete(id);
    for (const r of parsed) after.set(r.id, r);
    const inputs = new Map<string, string>();
    const names = new Map<string, string>();
    for (const r of after.values()) {
      const k = inputKey(r);
      const other = inputs.get(k);
      if (other !== undefined) issues.push({ id: r.id, path: ["input"], message: `input ${k} is already used by rule ${other}` });
      inputs.set(k, r.id);
      if (r.name !== undefined) {
        const o = names.get(r.name);
        if (o !== undefined) issues.push({ id: r.id, path: ["name"], message: `name "${r.name}" is already used by rule ${o}` });
        names.set(r.name, r.id);
      }
    }
    const added = parsed.filter((r) => numbers.get(r.id) === undefined).length;
    if (added > numbers.available) {
      issues.push({ id: parsed[0]?.id ?? "", path: [], message: `the relay holds at most ${numbers.max} rules (--max-rules); ${numbers.available} can be added now` });
    }
    for (const r of parsed) issues.push(...vet(r, netdevs));
    return issues.length ? { issues } : { rules: parsed };
  }

  /** Takes a change that check() accepted. */
  apply(put: IdentifiedRule[], del: string[]): void {
    for (const id of del) this.rules.delete(id);
    for (const r of put) this.rules.set(r.id, r);
  }
}

/** What only the host can tell is wrong with a rule: an output to its interface's subnet
 *  broadcast address (a connect() there fails with EACCES, and relaying to a whole subnet is not
 *  what a multicast relay is for). */
export function vet(r: IdentifiedRule, netdevs: Map<string, Netdev>): ControlIssue[] {
  const issues: ControlIssue[] = [];
  r.outputs.forEach((o, i) => {
    const l = netdevs.get(o.interface);
    if (l && l.broadcast !== 0 && parseIpv4(o.group) === l.broadcast) { // IPv6 has no broadcast (parseIpv4 gives null)
      issues.push({ id: r.id, path: ["outputs", i, "group"], message: `${o.group} is the broadcast address of ${o.interface} (${l.addr}, broadcast ${formatIpv4(l.broadcast)}): not an output a relay can send to` });
    }
  });
  return issues;
}
