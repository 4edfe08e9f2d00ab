// What `apply` has to do to turn the server's rules and links into the file's, and in which order.
// Pure: no I/O, so the ordering rules can be reasoned about (and tested) on their own.
import { inputKey, sameInput, shareNode } from "../rules/load.ts";
import type { RuleInput } from "../rules/schema.ts";
import type { LinkInput } from "../services/api/store/index.ts";
import { CliError } from "./errors.ts";
import { fullLink, fullRule } from "./format.ts";

export type Identified = RuleInput & { id: string };
export type IdentifiedLink = LinkInput & { id: string };
export type Kind = "rule" | "link";

/** The rules and links of a file, or of the server. */
export interface Desired {
  rules: Identified[];
  links?: IdentifiedLink[];
}

/** A rule or a link: what a change or a step is about. */
export type Item = { kind: "rule"; id: string; rule: Identified } | { kind: "link"; id: string; link: IdentifiedLink };

export interface FieldChange {
  path: string;
  from: unknown;
  to: unknown;
}

export type Change = Item & ({ op: "create" } | { op: "update"; fields: FieldChange[] } | { op: "delete" });

/** One request: POST, PUT or DELETE. */
export type Step = (Item & { action: "create" | "put" }) | { action: "delete"; kind: Kind; id: string };

export interface Plan {
  /** for display: creates, updates, deletes, each in file (or server) order, rules before links */
  changes: Change[];
  /** for execution */
  steps: Step[];
  /** rules up to date, and those on the server that --no-prune keeps; links' likewise */
  unchanged: string[];
  kept: string[];
  unchangedLinks: string[];
  keptLinks: string[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Leaf differences, e.g. {path: "outputs[0].port", from: 6000, to: 6100}. */
export function fieldDiff(a: unknown, b: unknown, path = ""): FieldChange[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => fieldDiff(a[k], b[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return Array.from({ length: Math.max(a.length, b.length) }, (_, i) => fieldDiff(a[i], b[i], `${path}[${i}]`)).flat();
  }
  return [{ path: path || "(rule)", from: a, to: b }];
}

const item = (kind: Kind, v: Identified | IdentifiedLink): Item =>
  kind === "rule" ? { kind, id: v.id, rule: { ...fullRule(v as Identified), id: v.id } } : { kind, id: v.id, link: { ...fullLink(v as IdentifiedLink), id: v.id } };
/** A change without what it does: the rule or link it is about. */
const itemOf = (c: Change): Item => (c.kind === "rule" ? { kind: c.kind, id: c.id, rule: c.rule } : { kind: c.kind, id: c.id, link: c.link });
const body = (x: Item) => (x.kind === "rule" ? x.rule : x.link);
const key = (x: { kind: Kind; id: string }) => `${x.kind} ${x.id}`;
const ends = (l: IdentifiedLink) => [l.a, l.b];

/** What two of them may not both have, or null: a rule's input or name, a link's interface or
 *  name, an interface that is a link's and a rule's input (inputs and interfaces on a node both run on). */
function shared(x: Item, y: Item): string | null {
  if (x.kind === "link" && y.kind === "rule") return shared(y, x);
  if (x.kind === "rule" && y.kind === "rule" && sameInput(x.rule, y.rule)) return `input ${inputKey(x.rule)}`;
  if (x.kind === "rule" && y.kind === "link") return shareNode(x.rule, y.link) && ends(y.link).includes(x.rule.input.interface) ? `interface ${x.rule.input.interface}` : null;
  if (x.kind === "link" && y.kind === "link" && shareNode(x.link, y.link)) {
    const i = ends(x.link).find((e) => ends(y.link).includes(e));
    if (i !== undefined) return `interface ${i}`;
  }
  const n = body(x).name;
  return x.kind === y.kind && n !== undefined && n === body(y).name ? `name "${n}"` : null;
}

export function plan(desired: Desired, current: Desired, prune: boolean): Plan {
  const creates: Change[] = [];
  const updates: Change[] = [];
  const deletes: Change[] = [];
  const all = { rule: { unchanged: [] as string[], kept: [] as string[] }, link: { unchanged: [] as string[], kept: [] as string[] } };
  const cur = new Map<string, Item>();
  for (const kind of ["rule", "link"] as const) {
    const of = (d: Desired) => (kind === "rule" ? d.rules : (d.links ?? [])).map((v) => item(kind, v));
    const here = new Map(of(current).map((x) => [x.id, x]));
    const want = new Map(of(desired).map((x) => [x.id, x]));
    for (const x of here.values()) cur.set(key(x), x);
    for (const [id, x] of want) {
      const old = here.get(id);
      if (!old) creates.push({ op: "create", ...x });
      else {
        const fields = fieldDiff(body(old), body(x));
        if (fields.length) updates.push({ op: "update", ...x, fields });
        else all[kind].unchanged.push(id);
      }
    }
    const gone = [...here.values()].filter((x) => !want.has(x.id));
    if (prune) deletes.push(...gone.map((x) => ({ op: "delete" as const, ...x })));
    else all[kind].kept.push(...gone.map((x) => x.id));
  }
  return {
    changes: [...creates, ...updates, ...deletes],
    steps: order(cur, [...creates, ...updates], deletes),
    unchanged: all.rule.unchanged, kept: all.rule.kept, unchangedLinks: all.link.unchanged, keptLinks: all.link.kept,
  };
}

/** Creates and updates go before deletions (a failure then leaves nothing deleted), except that
 *  one whose input, interface or name another change takes is deleted first, and an update that
 *  takes what a later update frees waits for it. Swaps (A takes B's input, B takes A's) are broken
 *  by deleting one of them and creating it again afterwards. */
function order(cur: Map<string, Item>, writes: Change[], deletes: Change[]): Step[] {
  const state = new Map(cur);
  const toDelete = new Map(deletes.map((d) => [key(d), itemOf(d)]));
  const steps: Step[] = [];
  const pending = writes.map((c) => ({ item: itemOf(c), recreate: c.op === "create" }));
  const blockers = (p: Item) => [...state.values()].filter((x) => key(x) !== key(p) && shared(p, x) !== null);
  const remove = (x: Item) => {
    steps.push({ action: "delete", kind: x.kind, id: x.id });
    state.delete(key(x));
  };
  while (pending.length) {
    const free = pending.findIndex((p) => blockers(p.item).length === 0);
    if (free >= 0) {
      const [p] = pending.splice(free, 1);
      steps.push({ action: p.recreate ? "create" : "put", ...p.item });
      state.set(key(p.item), p.item);
      continue;
    }
    const all = pending.flatMap((p) => blockers(p.item).map((b) => ({ p: p.item, b })));
    const early = all.find(({ b }) => toDelete.has(key(b)));
    if (early) {
      toDelete.delete(key(early.b));
      remove(early.b);
      continue;
    }
    const stuck = all.find(({ b }) => !pending.some((q) => key(q.item) === key(b)));
    if (stuck) {
      throw new CliError(`${stuck.p.kind} ${stuck.p.id} in the file has the same ${shared(stuck.p, stuck.b)} as ${stuck.b.kind} ${stuck.b.id} on the server, which is not in the file and is kept (--no-prune)`);
    }
    // Only pending updates block each other: a cycle.
    const b = all[0].b;
    pending.find((q) => key(q.item) === key(b))!.recreate = true;
    remove(b);
  }
  for (const x of toDelete.values()) steps.push({ action: "delete", kind: x.kind, id: x.id });
  return steps;
}
