// A body from the command line, made from a schema's leaves (rules/forms.ts) so that no command
// lists a field by hand: a flag per leaf (`--aToB.loss 0.1`), a repeatable flag per list of
// objects taking `KEY=VALUE,...` (`--flow name=web,match.ports=80`), and `KEY=VALUE` pairs for
// `set` (KEY as the API's errors name a field: `flows[0].match.ports`). Only the syntax is checked
// here; the values are the API's to judge (it names the field).
import type { z } from "zod";
import { fromText, leafKinds, type LeafKind } from "../rules/forms.ts";
import { UsageError } from "./errors.ts";
import { commonOptions } from "./options.ts";

type Path = (string | number)[];

/** "flows[0].match.ports" -> ["flows", 0, "match", "ports"]; null when it is no such path. */
export function parsePath(key: string): Path | null {
  if (!/^[A-Za-z_][\w-]*(\[\d+\]|\.[A-Za-z_][\w-]*)*$/.test(key)) return null;
  return [...key.matchAll(/([A-Za-z_][\w-]*)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]));
}

/** Puts value at path, making objects and lists on the way; undefined removes what is there. */
export function setAt(obj: Record<string, unknown>, path: Path, value: unknown): void {
  let cur: any = obj;
  path.slice(0, -1).forEach((p, i) => {
    if (typeof cur[p] !== "object" || cur[p] === null) cur[p] = typeof path[i + 1] === "number" ? [] : {};
    cur = cur[p];
  });
  const last = path[path.length - 1];
  if (value === undefined) Array.isArray(cur) && typeof last === "number" ? cur.splice(last, 1) : delete cur[last];
  else cur[last] = value;
}

/** What a body's fields are: the schema's leaves, by path with [] for any list index. */
export class Fields {
  private constructor(readonly kinds: Map<string, LeafKind>) {}

  static of(schema: z.ZodType): Fields {
    return new Fields(leafKinds(schema));
  }

  /** The leaves under a list of objects (e.g. "flows"), as fields of one of its elements. */
  under(list: string): Fields {
    const prefix = `${list}[].`;
    return new Fields(new Map([...this.kinds].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v])));
  }

  /** An object or a list of them (a path some leaf is below): set from JSON. */
  private isContainer(kindPath: string): boolean {
    return [...this.kinds.keys()].some((k) => k.startsWith(`${kindPath}.`) || k.startsWith(`${kindPath}[]`));
  }

  /** The value `text` gives the field at `key`: the leaf's JSON, JSON for an object or list,
   *  undefined (remove it) for empty text. */
  value(key: string, text: string): unknown {
    if (text === "") return undefined;
    const kindPath = key.replace(/\[\d+\]/g, "[]");
    if (!this.isContainer(kindPath)) return fromText(this.kinds.get(kindPath), text);
    try {
      return JSON.parse(text);
    } catch {
      throw new UsageError(`${key} is an object or a list: its value must be JSON, got ${text}`);
    }
  }

  /** `KEY=VALUE` pairs onto obj. */
  assign(obj: Record<string, unknown>, pairs: string[]): Record<string, unknown> {
    for (const pair of pairs) {
      const eq = pair.indexOf("=");
      const key = eq < 0 ? pair : pair.slice(0, eq);
      const path = parsePath(key);
      if (eq < 0 || !path) throw new UsageError(`expected KEY=VALUE with KEY a field such as aToB.loss or flows[0].name, got "${pair}"`);
      setAt(obj, path, this.value(key, pair.slice(eq + 1)));
    }
    return obj;
  }

  /** The lists of objects, by the flag that adds one element: the list's name less its plural s. */
  private lists(): Map<string, string> {
    const names = new Set([...this.kinds.keys()].filter((k) => k.includes("[].")).map((k) => k.slice(0, k.indexOf("[]."))));
    return new Map([...names].map((n) => [n.replace(/s$/, ""), n]));
  }

  /** parseArgs options: one per leaf outside lists of objects, one per list of objects. */
  options(): Record<string, { type: "string"; multiple: boolean }> {
    const leaves = [...this.kinds].filter(([k]) => !k.includes("[]"));
    const opts = Object.fromEntries([...leaves.map(([k, v]) => [k, { type: "string" as const, multiple: v.list }] as const),
      ...[...this.lists().keys()].map((f) => [f, { type: "string" as const, multiple: true }] as const)]);
    for (const k of Object.keys(opts)) if (k in commonOptions || k === "file") throw new Error(`the field ${k} would shadow the option --${k}`);
    return opts;
  }

  /** The body the flags give (values as parseArgs returns them for options()). */
  fromFlags(values: Record<string, unknown>): Record<string, unknown> {
    const body: Record<string, unknown> = {};
    for (const [k, kind] of this.kinds) {
      const v = values[k];
      if (v === undefined) continue;
      setAt(body, parsePath(k)!, kind.list ? (v as string[]).flatMap((x) => fromText(kind, x) as unknown[]) : fromText(kind, v as string));
    }
    for (const [flag, list] of this.lists()) {
      const specs = values[flag] as string[] | undefined;
      // KEY=VALUE,KEY=VALUE: split only where a KEY= follows, so a list value may hold commas.
      if (specs) body[list] = specs.map((s) => this.under(list).assign({}, s.split(/,(?=[A-Za-z_][\w.[\]-]*=)/)));
    }
    return body;
  }

  /** The leaves outside lists of objects, those of one object together: a, aToB.{loss,seed}. */
  private grouped(): string[] {
    const groups = new Map<string, string[]>();
    for (const k of this.kinds.keys()) {
      if (k.includes("[]")) continue;
      const dot = k.indexOf(".");
      const head = dot < 0 ? k : k.slice(0, dot);
      groups.set(head, [...(groups.get(head) ?? []), ...(dot < 0 ? [] : [k.slice(dot + 1)])]);
    }
    return [...groups].map(([head, rest]) => (rest.length ? `${head}.{${rest.join(",")}}` : head));
  }

  /** How the flags read in a usage text, one a line: --a V, --aToB.{loss,…} V, --flow KEY=V,... */
  usage(): string[] {
    return [...this.grouped().map((g) => `--${g} V`),
      ...[...this.lists()].map(([flag, list]) => `--${flag} KEY=V,...  (KEY: ${this.under(list).grouped().join(" ")}; repeat for more)`)];
  }
}
