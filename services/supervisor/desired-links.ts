// The links the supervisor is to run, checked whole before a change is taken (as desired.ts does
// for rules): the schema again, unique ids and names, an interface in one link only and never a
// rule's input, and a rule number free for each of a new link's channels.
import { interfaceClashes, linkId } from "../../rules/load.ts";
import { DIRECTIONS, linkSchema, type Link } from "../../rules/link.ts";
import { ruleInputs } from "../../rules/schema.ts";
import type { ControlIssue } from "../protocol/control.ts";
import type { IdentifiedRule } from "./desired.ts";
import type { RuleNumbers } from "./numbers.ts";

export type IdentifiedLink = Link & { id: string };

/** A link's channels: per direction its own and one per flow (what ingress sorts frames into).
 *  Their keys in RuleNumbers cannot be rule ids (a NUL is not allowed in one). */
export function channelKeys(l: IdentifiedLink): { dir: (typeof DIRECTIONS)[number]; flow: number; key: string }[] {
  const flows = l.flows ?? [];
  return DIRECTIONS.flatMap((dir) => [-1, ...flows.map((_, i) => i)].map((flow) => ({ dir, flow, key: `${l.id}\u0000${dir}\u0000${flow}` })));
}

export class DesiredLinks {
  private readonly links = new Map<string, IdentifiedLink>();

  list(): IdentifiedLink[] {
    return [...this.links.values()];
  }

  has(id: string): boolean {
    return this.links.has(id);
  }

  get(id: string): IdentifiedLink | undefined {
    return this.links.get(id);
  }

  /**
   * What would be wrong after putting `put` and deleting `del`, with `rules` the rules as they
   * will be; `freeNumbers`: rule numbers left once the rules of the same change have theirs.
   */
  check(put: unknown[], del: string[], rules: IdentifiedRule[], numbers: RuleNumbers, freeNumbers: number, changedRules: ReadonlySet<string> = new Set()):
    { links: IdentifiedLink[] } | { issues: ControlIssue[] } {
    const issues: ControlIssue[] = [];
    const parsed: IdentifiedLink[] = [];
    put.forEach((raw, i) => {
      const r = linkSchema.safeParse(raw);
      const id = (raw as { id?: unknown })?.id;
      if (!r.success) {
        for (const x of r.error.issues) issues.push({ kind: "link", id: typeof id === "string" ? id : `#${i}`, path: x.path.map((p) => (typeof p === "number" ? p : String(p))), message: x.message });
        return;
      }
      parsed.push({ ...r.data, id: linkId(r.data) });
    });
    if (issues.length) return { issues };
    const after = new Map(this.links);
    for (const id of del) after.delete(id);
    for (const l of parsed) after.set(l.id, l);
    const all = [...after.values()];
    const names = new Map<string, string>();
    for (const l of all) {
      if (l.name === undefined) continue;
      const o = names.get(l.name);
      if (o !== undefined) issues.push({ kind: "link", id: l.id, path: ["name"], message: `name "${l.name}" is already used by link ${o}` });
      names.set(l.name, l.id);
    }
    const putIds = new Set(parsed.map((l) => l.id));
    for (const c of interfaceClashes(rules, all)) {
      const l = all[c.link]!;
      if (putIds.has(l.id)) issues.push({ kind: "link", id: l.id, path: [c.field], message: c.message });
      else {
        // The link stands; a rule of this change took its interface as input.
        for (const r of rules) {
          const p = ruleInputs(r).findIndex((i) => i.interface === l[c.field]);
          if (changedRules.has(r.id) && p >= 0) {
            issues.push({ id: r.id, path: r.inputs ? ["inputs", p, "interface"] : ["input", "interface"], message: `${l[c.field]} is an end of link ${l.name ?? l.id}: an interface is a link's or rules' input, not both` });
          }
        }
      }
    }
    const needed = parsed.flatMap((l) => channelKeys(l)).filter((c) => numbers.get(c.key) === undefined).length;
    if (needed > freeNumbers) {
      issues.push({ kind: "link", id: parsed[0]?.id ?? "", path: [],
        message: `a link takes a rule number per direction and flow; ${needed} are needed and ${freeNumbers} are free (--max-rules ${numbers.max})` });
    }
    return issues.length ? { issues } : { links: parsed };
  }

  apply(put: IdentifiedLink[], del: string[]): void {
    for (const id of del) this.links.delete(id);
    for (const l of put) this.links.set(l.id, l);
  }
}
