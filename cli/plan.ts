// What `apply` has to do to turn the server's rules into the file's, and in which order.
// Pure: no I/O, so the ordering rules can be reasoned about (and tested) on their own.
import { inputKey, sameInput } from "../rules/load.ts";
import type { Rule, RuleInput } from "../rules/schema.ts";
import { CliError } from "./errors.ts";
import { fullRule } from "./format.ts";

export type Identified = RuleInput & { id: string };

export interface FieldChange {
  path: string;
  from: unknown;
  to: unknown;
}

export type Change =
  | { op: "create"; id: string; rule: Identified }
  | { op: "update"; id: string; rule: Identified; fields: FieldChange[] }
  | { op: "delete"; id: string; rule: Identified };

/** One request: POST, PUT or DELETE. */
export type Step = { action: "create" | "put"; id: string; rule: Identified } | { action: "delete"; id: string };

export interface Plan {
  /** for display: creates, updates, deletes, each in file (or server) order */
  changes: Change[];
  /** for execution */
  steps: Step[];
  unchanged: string[];
  /** on the server, not in the file, kept because of --no-prune */
  kept: string[];
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

export function plan(desired: Identified[], current: Identified[], prune: boolean): Plan {
  const cur = new Map(current.map((r) => [r.id, { ...fullRule(r), id: r.id } as Identified]));
  const want = new Map(desired.map((r) => [r.id, { ...fullRule(r), id: r.id } as Identified]));
  const creates: Change[] = [];
  const updates: Change[] = [];
  const unchanged: string[] = [];
  for (const [id, rule] of want) {
    const old = cur.get(id);
    if (!old) creates.push({ op: "create", id, rule });
    else {
      const fields = fieldDiff(old, rule);
      if (fields.length) updates.push({ op: "update", id, rule, fields });
      else unchanged.push(id);
    }
  }
  const gone = [...cur.values()].filter((r) => !want.has(r.id));
  const deletes: Change[] = prune ? gone.map((rule) => ({ op: "delete", id: rule.id, rule })) : [];
  return {
    changes: [...creates, ...updates, ...deletes],
    steps: order(cur, [...creates, ...updates], new Set(deletes.map((d) => d.id))),
    unchanged,
    kept: prune ? [] : gone.map((r) => r.id),
  };
}

/** Creates and updates go before deletions (a failure then leaves nothing deleted), except that
 *  a rule whose input or name another change takes is deleted first, and an update that takes
 *  what a later update frees waits for it. Swaps (A takes B's input, B takes A's) are broken by
 *  deleting one of them and creating it again afterwards. */
function order(cur: Map<string, Identified>, writes: Change[], toDelete: Set<string>): Step[] {
  const state = new Map(cur);
  const steps: Step[] = [];
  const pending = writes.map((c) => ({ id: c.id, rule: c.rule, recreate: c.op === "create" }));
  const blockers = (p: (typeof pending)[number]) => {
    return [...state.values()].filter((r) => r.id !== p.id && (sameInput(r, p.rule) || (p.rule.name !== undefined && r.name === p.rule.name)));
  };
  const remove = (id: string) => {
    steps.push({ action: "delete", id });
    state.delete(id);
  };
  while (pending.length) {
    const free = pending.findIndex((p) => blockers(p).length === 0);
    if (free >= 0) {
      const [p] = pending.splice(free, 1);
      steps.push({ action: p.recreate ? "create" : "put", id: p.id, rule: p.rule });
      state.set(p.id, p.rule);
      continue;
    }
    const all = pending.flatMap((p) => blockers(p).map((b) => ({ p, b })));
    const early = all.find(({ b }) => toDelete.has(b.id));
    if (early) {
      toDelete.delete(early.b.id);
      remove(early.b.id);
      continue;
    }
    const stuck = all.find(({ b }) => !pending.some((q) => q.id === b.id));
    if (stuck) {
      const what = inputKey(stuck.b) === inputKey(stuck.p.rule) ? `input ${inputKey(stuck.b)}` : `name "${stuck.b.name}"`;
      throw new CliError(`rule ${stuck.p.id} in the file has the same ${what} as rule ${stuck.b.id} on the server, which is not in the file and is kept (--no-prune)`);
    }
    // Only pending updates block each other: a cycle.
    const b = all[0].b;
    pending.find((q) => q.id === b.id)!.recreate = true;
    remove(b.id);
  }
  for (const id of toDelete) steps.push({ action: "delete", id });
  return steps;
}
