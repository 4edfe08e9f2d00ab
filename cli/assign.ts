// FIELD=VALUE assignments to a rule or a link, for `rules add`, `rules set`, `links set` and the
// flags of `links add` (fields.ts): any field of the kind's schema by its path (`outputs[0].ttl=4`,
// `impairment.loss=0.1`, `aToB.stages=drop-odd-size`, `flows[0].match.ports=443`). The path is
// checked against the schema here (an unknown one names itself and the fields there are); the
// value is turned into what the schema takes at that path, and judged by the API, which names
// the field when it is wrong.
import type { z } from "zod";
import { elementOf, leafPaths, schemaAt, valueKinds, type PathStep } from "../rules/forms.ts";
import { ruleObject } from "../rules/schema.ts";
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

/** Text as the value the schema takes at path: JSON for objects and arrays of objects, a list of
 *  plain values from commas, a number or a boolean where one is taken. */
export function coerce(schema: z.ZodType, path: PathStep[], text: string): unknown {
  const field = fieldPath(path);
  const at = schemaAt(schema, path)!;
  const kinds = valueKinds(at);
  if (text.startsWith("{") || text.startsWith("[") || kinds.has("object")) {
    try {
      return JSON.parse(text);
    } catch {
      throw new UsageError(`${field}: ${kinds.has("object") ? "give the value as JSON" : "the value is not valid JSON"}, got ${text}`);
    }
  }
  if (kinds.has("array")) {
    // "a,b": a list of plain values (e.g. impairment.stages)
    const el = elementOf(at)!;
    return text === "" ? [] : text.split(",").map((t) => coerceScalar(field, valueKinds(el), t.trim()));
  }
  return coerceScalar(field, kinds, text);
}

function coerceScalar(field: string, kinds: Set<string>, text: string): unknown {
  const numeric = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text);
  if (kinds.has("number") && numeric) return Number(text);
  if (kinds.has("boolean") && (text === "true" || text === "false")) return text === "true";
  if (kinds.has("string") || kinds.has("literal")) return text; // "preserve" for dscp, names, addresses
  throw new UsageError(`${field}: "${text}" is not a ${kinds.has("boolean") ? "boolean (true or false)" : "number"}`);
}

/** Parses FIELD=VALUE arguments against a kind's schema (a rule's by default); a field the schema
 *  does not have is a usage error naming it. */
export function parseAssignments(args: string[], schema: z.ZodType = ruleObject, noun = "rule"): Assignment[] {
  return args.map((arg) => {
    const eq = arg.indexOf("=");
    const key = eq < 0 ? arg : arg.slice(0, eq);
    const text = arg.slice(eq + 1);
    const path = parsePath(key);
    if (eq < 0 || !path) throw new UsageError(`"${arg}" is not FIELD=VALUE with FIELD a field path (e.g. ${noun === "rule" ? "outputs[0].ttl, impairment.loss" : "aToB.loss, flows[0].match.ports"})`);
    if (!schemaAt(schema, path)) {
      const paths = leafPaths(schema);
      const lists = [...new Set(paths.filter((p) => p.includes("[]")).map((p) => p.slice(0, p.indexOf("[]"))))];
      throw new UsageError(`${key}: a ${noun} has no such field (its fields: ${paths.join(", ")}${lists.length ? `; ${lists.map((l) => `${l}[N]`).join(", ")} picks one entry` : ""})`);
    }
    return { path, value: text === "" ? undefined : coerce(schema, path, text) };
  });
}

/** Applies assignments to a plain object (changed in place, also returned). An index one past the
 *  end of an array adds an element; `outputs[1]=` removes one. */
export function assign(obj: Record<string, unknown>, list: Assignment[]): Record<string, unknown> {
  for (const { path, value } of list) {
    let at: any = obj;
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
  return obj;
}
