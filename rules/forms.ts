// What follows from a zod schema alone, so that no caller lists a shape's fields by hand (a
// hand-kept copy of the rule's fields once dropped `impairment` from `apply` and `export`): every
// leaf field a schema can hold, and the fields a value sets, so a test can check that a fixture
// covers the whole schema; and what JSON a leaf takes, so text from a command line can become it.
import type { z } from "zod";

type Def = { type: string; innerType?: z.ZodType; defaultValue?: unknown; shape?: Record<string, z.ZodType>; element?: z.ZodType; in?: z.ZodType; options?: z.ZodType[]; values?: unknown[] };
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
export function leafPaths(schema: z.ZodType): string[] {
  return [...leafKinds(schema).keys()];
}

/** The leaf paths a value sets (same notation as leafPaths). */
export function valuePaths(value: unknown, prefix = ""): string[] {
  if (isObj(value)) return Object.entries(value).flatMap(([k, v]) => (v === undefined ? [] : valuePaths(v, prefix ? `${prefix}.${k}` : k)));
  if (Array.isArray(value) && value.length && value.every(isObj)) return [...new Set(value.flatMap((v) => valuePaths(v, `${prefix}[]`)))];
  return [prefix];
}

/** The JSON types a leaf takes, and whether it is a list of them. */
export interface LeafKind {
  types: Set<"string" | "number" | "boolean">;
  list: boolean;
}

function scalarTypes(schema: z.ZodType): LeafKind["types"] {
  const c = core(schema);
  const d = def(c);
  if (d.type === "union" && d.options) return new Set(d.options.flatMap((o) => [...scalarTypes(o)]));
  if (d.type === "string" || d.type === "enum") return new Set(["string"]);
  if (d.type === "number" || d.type === "int") return new Set(["number"]);
  if (d.type === "boolean") return new Set(["boolean"]);
  if (d.type === "literal") return new Set((d.values ?? []).map((v) => typeof v).filter((t): t is "string" | "number" | "boolean" => t === "string" || t === "number" || t === "boolean"));
  return new Set();
}

/** Every leaf of the schema, by its path (leafPaths), and what it takes. */
export function leafKinds(schema: z.ZodType, prefix = ""): Map<string, LeafKind> {
  const d = def(core(schema));
  if (d.type === "object" && d.shape) return new Map(Object.entries(d.shape).flatMap(([k, v]) => [...leafKinds(v, prefix ? `${prefix}.${k}` : k)]));
  if (d.type === "array" && d.element && def(core(d.element)).type === "object") return leafKinds(d.element, `${prefix}[]`);
  if (d.type === "array" && d.element) return new Map([[prefix, { types: scalarTypes(d.element), list: true }]]);
  return new Map([[prefix, { types: scalarTypes(schema), list: false }]]);
}

/** Text as the JSON a leaf takes: a number or a boolean where the leaf takes one and the text is
 *  one, else the text (the schema then judges it, naming the field); a list from commas. */
export function fromText(kind: LeafKind | undefined, text: string): unknown {
  const one = (t: string): unknown => {
    if (kind?.types.has("number") && /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return Number(t);
    if (kind?.types.has("boolean") && (t === "true" || t === "false")) return t === "true";
    return t;
  };
  return kind?.list ? text.split(",").map(one) : one(text);
}
