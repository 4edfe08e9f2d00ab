// key=value assignments to a rule, for `rules add` and `rules set`: any field of the rule schema
// by its path (`outputs[0].ttl=4`, `impairment.loss=0.1`, `traceSampleRatio=0.5`,
// `impairment.stages=drop-odd-size`). The path is checked against the schema here (an unknown
// one names itself and the fields there are); the value is turned into what the schema takes
// at that path, and judged by the API, which names the field when it is wrong.
import { ruleObject } from "../rules/schema.ts";
import { elementOf, leafPaths, schemaAt, valueKinds, type PathStep } from "../rules/forms.ts";
import { UsageError, fieldPath } from "./errors.ts";

export interface Assignment {
  path: PathStep[];
  /** undefined: remove the field (`key=`) */
  value: unknown;
}

/** "outputs[0].ttl" -> ["outputs", 0, "ttl"]; null if it is not a path. */
export function parsePath(s: string): PathStep[] | null {
  if (!/^[A-Za-z_]\w*(\[\d+\]|\.[A-Za-z_]\w*)*$/.test(s)) return null;
  return [...s.matchAll(/([A-Za-z_]\w*)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]));
}

export const isAssignment = (arg: string) => /^[A-Za-z_][\w.[\]]*=/.test(arg);

/** Text as the value the schema takes at path: JSON for objects and arrays of objects. */
function coerce(path: PathStep[], text: string): unknown {
  const field = fieldPath(path);
  const schema = schemaAt(ruleObject, path)!;
  const kinds = valueKinds(schema);
  if (text.startsWith("{") || text.startsWith("[") || kinds.has("object")) {
    try {
      return JSON.parse(text);
    } catch {
      throw new UsageError(`${field}: ${kinds.has("object") ? "give the value as JSON" : "the value is not valid JSON"}, got ${text}`);
    }
  }
  if (kinds.has("array")) {
    // "a,b": a list of plain values (e.g. impairment.stages)
    const el = elementOf(schema)!;
    return text === "" ? [] : text.split(",").map((t) => coerceScalar(field, valueKinds(el), t.trim()));
  }
  return coerceScalar(field, kinds, text);
}

function coerceScalar(field: string, kinds: Set<string>, text: string): unknown {
  const numeric = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text);
  if (kinds.has("number") && numeric) return Number(text);
  if (kinds.has("boolean") && (text === "true" || text === "false")) return text === "true";
  if (kinds.has("string") || kinds.has("literal")) return text; // "preserve" for dscp, names, addresses
  throw new UsageError(`${field}: "${text}" is not a number`);
}

/** Parses key=value arguments; a key the rule schema does not have is a usage error naming it. */
export function parseAssignments(args: string[]): Assignment[] {
  return args.map((arg) => {
    const eq = arg.indexOf("=");
    const key = arg.slice(0, eq);
    const text = arg.slice(eq + 1);
    const path = parsePath(key);
    if (!path) throw new UsageError(`"${key}" is not a field path (e.g. outputs[0].ttl, impairment.loss)`);
    if (!schemaAt(ruleObject, path)) {
      const fields = leafPaths(ruleObject).join(", ");
      throw new UsageError(`${key}: a rule has no such field (its fields: ${fields}; outputs[N] picks an output)`);
    }
    return { path, value: text === "" ? undefined : coerce(path, text) };
  });
}

/** Applies assignments to a plain rule object (changed in place, also returned). An index one past
 *  the end of an array adds an element; `outputs[1]=` removes one. */
export function assign(rule: Record<string, unknown>, list: Assignment[]): Record<string, unknown> {
  for (const { path, value } of list) {
    let at: any = rule;
    for (let i = 0; i < path.length - 1; i++) {
      const step = path[i];
      const next = path[i + 1];
      if (Array.isArray(at) && typeof step === "number" && step > at.length) {
        throw new UsageError(`${fieldPath(path.slice(0, i + 1))}: no such entry (there are ${at.length}; [${at.length}] adds one)`);
      }
      if (at[step] === undefined || at[step] === null) at[step] = typeof next === "number" ? [] : {};
      at = at[step];
    }
    const last = path[path.length - 1];
    if (Array.isArray(at) && typeof last === "number" && last > at.length) {
      throw new UsageError(`${fieldPath(path)}: no such entry (there are ${at.length}; [${at.length}] adds one)`);
    }
    if (value === undefined) {
      if (Array.isArray(at) && typeof last === "number") at.splice(last, 1);
      else delete at[last];
    } else at[last] = value;
  }
  return rule;
}
