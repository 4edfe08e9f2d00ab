// What the rules and links commands share: one of them read from a file (or stdin), `show`, `set`,
// `rm`, and an error that names which one it was about.
import { readFileSync } from "node:fs";
import type { z } from "zod";
import { withoutServerFields } from "../services/protocol/rules.ts";
import { assign, isAssignment, parseAssignments } from "./assign.ts";
import { ApiError, CliError, UsageError, describeError } from "./errors.ts";
import { print, printJson } from "./format.ts";
import { connect, parse } from "./options.ts";

export type Noun = "rule" | "link";

/** One rule or link from FILE or - (stdin); a body printed by `show --json` is taken back
 *  without the fields the API adds (`serverFields`). */
export function readOne(path: string, noun: Noun, serverFields: readonly string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CliError(`${path === "-" ? "stdin" : path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new CliError(`${path} must hold one ${noun} (a JSON object)`);
  if ("rules" in raw || "links" in raw) throw new CliError(`${path} is a rules file; use \`mcrelay apply -f ${path}\` for those`);
  return withoutServerFields(raw as Record<string, unknown>, serverFields);
}

/** Prefixes an API error with the one it was about ("rule x: no such rule"). */
export function context(noun: Noun, id: string) {
  return (e: unknown): never => {
    if (e instanceof ApiError && e.status === 404) throw new ApiError(e.status, `${noun} ${id}: ${e.error}`, e.issues, e.hint);
    throw e;
  };
}

/** `show ID`: one, as `details` writes it (or --json). */
export function showCommand<T>(noun: Noun, details: (x: T) => string) {
  return async (argv: string[]): Promise<number> => {
    const { values: v, positionals } = parse(argv, {});
    if (positionals.length !== 1) throw new UsageError(`${noun}s show takes one ${noun} id`);
    const x = await connect(v).request<T>("GET", `/api/v1/${noun}s/${encodeURIComponent(positionals[0])}`).catch(context(noun, positionals[0]));
    await (v.json ? printJson(x) : print(details(x)));
    return 0;
  };
}

/** `rm ID...`: each deleted; a wrong id among several does not stop the others (the exit code says so). */
export function rmCommand(noun: Noun) {
  return async (argv: string[]): Promise<number> => {
    const { values: v, positionals } = parse(argv, {});
    if (!positionals.length) throw new UsageError(`${noun}s rm takes one or more ${noun} ids`);
    const client = connect(v);
    const deleted: string[] = [];
    let failed = false;
    for (const id of positionals) {
      try {
        await client.request("DELETE", `/api/v1/${noun}s/${encodeURIComponent(id)}`);
        deleted.push(id);
        if (!v.json) await print(`deleted ${noun} ${id}`);
      } catch (e) {
        if (!(e instanceof ApiError) || e.status === 401) throw e;
        console.error(describeError(e, `${noun} ${id}`));
        failed = true;
      }
    }
    if (v.json) await printJson({ deleted });
    return failed ? 1 : 0;
  };
}

/** `set ID FIELD=VALUE...`: the stored one with those fields changed, stored with PUT (so the API
 *  checks it whole and names a wrong field, and a field can be removed, which a PATCH cannot say). */
export function setCommand<T extends { id: string }>(noun: Noun, schema: z.ZodType, serverFields: readonly string[], said: (x: T) => string) {
  return async (argv: string[]): Promise<number> => {
    const { values: v, positionals } = parse(argv, {});
    const [id, ...rest] = positionals;
    if (id === undefined || !rest.length) throw new UsageError(`${noun}s set takes a ${noun} id and one or more FIELD=VALUE`);
    const stray = rest.find((p) => !isAssignment(p));
    if (stray !== undefined) throw new UsageError(`${noun}s set: "${stray}" is not FIELD=VALUE`);
    const sets = parseAssignments(rest, schema, noun);
    if (sets.some((s) => s.path[0] === "id")) throw new UsageError(`${noun}s set cannot change a ${noun}'s id (add a new ${noun} and rm this one)`);
    const client = connect(v);
    const path = `/api/v1/${noun}s/${encodeURIComponent(id)}`;
    const cur = withoutServerFields(await client.request<Record<string, unknown>>("GET", path).catch(context(noun, id)), serverFields);
    const x = await client.request<T>("PUT", path, assign(cur, sets)).catch(context(noun, id));
    await (v.json ? printJson(x) : print(`${said(x)}\n  ${rest.join(" ")}`));
    return 0;
  };
}
