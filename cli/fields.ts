// The flags of `links add`, made from the schema's leaves (rules/forms.ts) so that no command lists
// a field by hand: a flag per leaf (`--aToB.loss 0.1`), and a repeatable flag per list of objects
// taking `KEY=VALUE,...` (`--flow name=web,match.ports=80`). Each value becomes what the schema
// takes as FIELD=VALUE does (assign.ts); the API judges it (it names the field).
import type { z } from "zod";
import { leafPaths, schemaAt, valueKinds } from "../rules/forms.ts";
import { assign, coerce, parseAssignments, parsePath } from "./assign.ts";
import { commonOptions } from "./options.ts";

export class Fields {
  /** the leaves, by path with [] for any list index */
  private readonly leaves: string[];

  constructor(private readonly schema: z.ZodType, private readonly noun: string) {
    this.leaves = leafPaths(schema);
  }

  /** A leaf that takes a list of plain values (a repeatable flag). */
  private isList(path: string): boolean {
    return valueKinds(schemaAt(this.schema, parsePath(path)!)!).has("array");
  }

  /** The lists of objects, by the flag that adds one element: the list's name less its plural s. */
  private lists(): Map<string, string> {
    const names = new Set(this.leaves.filter((k) => k.includes("[].")).map((k) => k.slice(0, k.indexOf("[]."))));
    return new Map([...names].map((n) => [n.replace(/s$/, ""), n]));
  }

  /** parseArgs options: one per leaf outside lists of objects, one per list of objects. */
  options(): Record<string, { type: "string"; multiple: boolean }> {
    const opts = Object.fromEntries([...this.leaves.filter((k) => !k.includes("[]")).map((k) => [k, { type: "string" as const, multiple: this.isList(k) }] as const),
      ...[...this.lists().keys()].map((f) => [f, { type: "string" as const, multiple: true }] as const)]);
    for (const k of Object.keys(opts)) if (k in commonOptions || k === "file") throw new Error(`the field ${k} would shadow the option --${k}`);
    return opts;
  }

  /** The body the flags give (values as parseArgs returns them for options()). */
  fromFlags(values: Record<string, unknown>): Record<string, unknown> {
    const body: Record<string, unknown> = {};
    for (const k of this.leaves) {
      const v = values[k];
      if (v === undefined) continue;
      const path = parsePath(k)!;
      const value = Array.isArray(v) ? v.flatMap((x: string) => coerce(this.schema, path, x) as unknown[]) : coerce(this.schema, path, v as string);
      assign(body, [{ path, value }]);
    }
    for (const [flag, list] of this.lists()) {
      const specs = values[flag] as string[] | undefined;
      // KEY=VALUE,KEY=VALUE: split only where a KEY= follows, so a list value may hold commas.
      // Each element as the list's entry i: an error names the field as the API would.
      if (specs) {
        const one = (spec: string, i: number) => parseAssignments(spec.split(/,(?=[A-Za-z_][\w.[\]-]*=)/).map((p) => `${list}[${i}].${p}`), this.schema, this.noun);
        assign(body, specs.flatMap((spec, i) => one(spec, i)));
      }
    }
    return body;
  }

  /** Leaves grouped by their first step, those of one object together: a, aToB.{loss,seed}. */
  private static grouped(leaves: string[]): string[] {
    const groups = new Map<string, string[]>();
    for (const k of leaves) {
      const dot = k.indexOf(".");
      const head = dot < 0 ? k : k.slice(0, dot);
      groups.set(head, [...(groups.get(head) ?? []), ...(dot < 0 ? [] : [k.slice(dot + 1)])]);
    }
    return [...groups].map(([head, rest]) => (rest.length ? `${head}.{${rest.join(",")}}` : head));
  }

  /** How the flags read in a usage text, one a line: --a V, --aToB.{loss,…} V, --flow KEY=V,... */
  usage(): string[] {
    const under = (list: string) => this.leaves.filter((k) => k.startsWith(`${list}[].`)).map((k) => k.slice(list.length + 3));
    return [...Fields.grouped(this.leaves.filter((k) => !k.includes("[]"))).map((g) => `--${g} V`),
      ...[...this.lists()].map(([flag, list]) => `--${flag} KEY=V,...  (KEY: ${Fields.grouped(under(list)).join(" ")}; repeat for more)`)];
  }
}
