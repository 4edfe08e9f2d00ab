// What follows from a zod schema alone, so that no caller lists a shape's fields by hand (a
// hand-kept copy of the rule's fields once dropped `impairment` from `apply` and `export`): every
// leaf field a schema can hold, and the fields a value sets, so a test can check that a fixture
// covers the whole schema.
import type { z } from "zod";

type Def = { type: string; innerType?: z.ZodType; defaultValue?: unknown; shape?: Record<string, z.ZodType>; element?: z.ZodType; in?: z.ZodType; options?: z.ZodType[] };
const def = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schema under defaults, optionals, nullables and pipes. */
function core(s: z.ZodType): z.ZodType {
  for (let d = def(s); ; d = def(s)) {
    if ((d.type === "default" || d.type === "optional" || d.type === "nullable" || d.type === "prefault") && d.innerType) s = d.innerType;
    else if (d.type === "pipe" && d.in) s = d.in;
    else return s;
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Every leaf field of the schema as a path: "input.port", "outputs[].ttl", "impairment.stages". */
export function leafPaths(schema: z.ZodType, prefix = ""): string[] {
  const c = core(schema);
  const d = def(c);
  if (d.type === "object" && d.shape) return Object.entries(d.shape).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
  if (d.type === "array" && d.element && def(core(d.element)).type === "object") return leafPaths(d.element, `${prefix}[]`);
  return [prefix];
}

/** The leaf paths a value sets (same notation as leafPaths). */
export function valuePaths(value: unknown, prefix = ""): string[] {
  if (isObj(value)) return Object.entries(value).flatMap(([k, v]) => (v === undefined ? [] : valuePaths(v, prefix ? `${prefix}.${k}` : k)));
  if (Array.isArray(value) && value.length && value.every(isObj)) return [...new Set(value.flatMap((v) => valuePaths(v, `${prefix}[]`)))];
  return [prefix];
}

/** One step of a field path: a key, or an index into an array. */
export type PathStep = string | number;

/** The schema (under defaults and optionals) of the field at path, or null if the schema has none. */
export function schemaAt(schema: z.ZodType, path: readonly PathStep[]): z.ZodType | null {
  let s = core(schema);
  for (const step of path) {
    const d = def(s);
    if (typeof step === "number") {
      if (d.type !== "array" || !d.element) return null;
      s = core(d.element);
    } else {
      if (d.type !== "object" || !d.shape || !(step in d.shape)) return null;
      s = core(d.shape[step]);
    }
  }
  return s;
}

/** What kind of value a schema takes, as far as turning typed text into it goes. */
export function valueKinds(schema: z.ZodType): Set<"number" | "string" | "boolean" | "array" | "object" | "literal"> {
  const d = def(core(schema));
  switch (d.type) {
    case "number": return new Set(["number"]);
    case "string": case "enum": return new Set(["string"]);
    case "boolean": return new Set(["boolean"]);
    case "array": return new Set(["array"]);
    case "object": return new Set(["object"]);
    case "literal": return new Set(["literal"]);
    case "union": return new Set((d.options ?? []).flatMap((o) => [...valueKinds(o)]));
    default: return new Set(["string"]);
  }
}

/** The element schema of an array schema. */
export function elementOf(schema: z.ZodType): z.ZodType | null {
  const d = def(core(schema));
  return d.type === "array" && d.element ? d.element : null;
}
