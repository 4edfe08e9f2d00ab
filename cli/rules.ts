// `rules ls | show | add | rm`: thin wrappers over /api/v1/rules.
import { readFileSync } from "node:fs";
import { ApiError, CliError, UsageError, describeError } from "./errors.ts";
import { describeInput, describeOutput, print, printJson, ruleDetails, table, type StoredRule } from "./format.ts";
import { connect, parse } from "./options.ts";
import { withoutServerFields } from "../services/protocol/rules.ts";

export async function ls(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {});
  if (positionals.length) throw new UsageError(`rules ls takes no arguments, got "${positionals[0]}"`);
  const { rules } = await connect(v).request<{ rules: StoredRule[] }>("GET", "/api/v1/rules");
  if (v.json) return (await printJson(rules), 0);
  if (!rules.length) return (await print("no rules"), 0);
  const rows = rules.map((r) => [r.id, r.name ?? "-", r.state, describeInput(r.input), r.outputs.map(describeOutput).join(", ")]);
  const notes = rules.filter((r) => r.reason).map((r) => `${r.id}: ${r.reason}`);
  await print(table(["ID", "NAME", "STATE", "INPUT", "OUTPUTS"], rows) + (notes.length ? `\n\n${notes.join("\n")}` : ""));
  return 0;
}

export async function show(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {});
  if (positionals.length !== 1) throw new UsageError("rules show takes one rule id");
  const r = await connect(v).request<StoredRule>("GET", `/api/v1/rules/${encodeURIComponent(positionals[0])}`).catch(context(positionals[0]));
  await (v.json ? printJson(r) : print(ruleDetails(r)));
  return 0;
}

/** IF:GROUP:PORT[@SOURCE], an IPv6 group in brackets (IF:[ff0e::1]:PORT); interface names cannot
 *  hold ':' so the split is unambiguous. The source, last, may be IPv6 with or without brackets. */
export function parseEndpointArg(flag: string, s: string, source: boolean) {
  const m = /^([^:@[\]]+):(\[[0-9A-Fa-f:.]+\]|[^:@[\]]+):([^:@[\]]+)(?:@(\[[0-9A-Fa-f:.]+\]|[^@[\]]+))?$/.exec(s);
  if (!m || (m[4] && !source)) throw new UsageError(`${flag} must be IF:GROUP:PORT${source ? "[@SOURCE]" : ""} (IF:[GROUP]:PORT for IPv6), got "${s}"`);
  const bare = (x: string) => x.replace(/^\[(.*)\]$/, "$1");
  return { interface: m[1], group: bare(m[2]!), port: int(flag, m[3]!), ...(m[4] ? { source: bare(m[4]) } : {}) };
}

/** Only the syntax is checked here; ranges are the API's to judge (it names the field). */
function int(flag: string, s: string): number {
  if (!/^-?\d+$/.test(s)) throw new UsageError(`${flag}: "${s}" is not a number`);
  return Number(s);
}


function readRuleFile(path: string): Record<string, unknown> {
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
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new CliError(`${path} must hold one rule (a JSON object)`);
  if ("rules" in raw) throw new CliError(`${path} is a rules file; use \`mcrelay apply -f ${path}\` for those`);
  // A rule printed by `rules show --json` can be fed back: the fields the API adds are left out.
  return withoutServerFields(raw as Record<string, unknown>);
}

export async function add(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    file: { type: "string", short: "f" }, in: { type: "string" }, out: { type: "string", multiple: true },
    ttl: { type: "string" }, dscp: { type: "string" }, name: { type: "string" }, id: { type: "string" },
  });
  if (positionals.length) throw new UsageError(`rules add takes no arguments, got "${positionals[0]}"`);
  let body: Record<string, unknown>;
  if (v.file !== undefined) {
    const flags = ["in", "out", "ttl", "dscp", "name", "id"].filter((k) => v[k as keyof typeof v] !== undefined);
    if (flags.length) throw new UsageError(`-f and --${flags[0]} cannot be combined`);
    body = readRuleFile(v.file);
  } else {
    if (!v.in || !v.out?.length) throw new UsageError("rules add needs -f FILE, or --in and at least one --out");
    const extra = { ...(v.ttl !== undefined ? { ttl: int("--ttl", v.ttl) } : {}), ...(v.dscp !== undefined ? { dscp: int("--dscp", v.dscp) } : {}) };
    body = {
      ...(v.id !== undefined ? { id: v.id } : {}),
      ...(v.name !== undefined ? { name: v.name } : {}),
      input: parseEndpointArg("--in", v.in, true),
      outputs: v.out.map((o) => ({ ...parseEndpointArg("--out", o, false), ...extra })),
    };
  }
  const r = await connect(v).request<StoredRule>("POST", "/api/v1/rules", body);
  if (v.json) return (await printJson(r), 0);
  await print(`created rule ${r.id}${r.name ? ` "${r.name}"` : ""}: ${r.state}${r.reason ? ` (${r.reason})` : ""}\n` +
    `  ${describeInput(r.input)} -> ${r.outputs.map(describeOutput).join(", ")}`);
  return 0;
}

export async function rm(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {});
  if (!positionals.length) throw new UsageError("rules rm takes one or more rule ids");
  const client = connect(v);
  const deleted: string[] = [];
  let failed = false;
  for (const id of positionals) {
    try {
      await client.request("DELETE", `/api/v1/rules/${encodeURIComponent(id)}`);
      deleted.push(id);
      if (!v.json) await print(`deleted rule ${id}`);
    } catch (e) {
      // A wrong id among several must not stop the others; the exit code still says so.
      if (!(e instanceof ApiError) || e.status === 401) throw e;
      console.error(describeError(e, `rule ${id}`));
      failed = true;
    }
  }
  if (v.json) await printJson({ deleted });
  return failed ? 1 : 0;
}

/** Prefixes an API error with the rule it was about ("rule x: no such rule"). */
export function context(what: string) {
  return (e: unknown): never => {
    if (e instanceof ApiError && e.status === 404) throw new ApiError(e.status, `rule ${what}: ${e.error}`, e.issues, e.hint);
    throw e;
  };
}
