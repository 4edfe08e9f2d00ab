// `rules ls | show | add | set | rm`: thin wrappers over /api/v1/rules.
import { ruleObject } from "../rules/schema.ts";
import { SERVER_FIELDS } from "../services/protocol/rules.ts";
import { UsageError } from "./errors.ts";
import { describeInput, describeOutput, print, printJson, ruleDetails, table, type StoredRule } from "./format.ts";
import { connect, parse } from "./options.ts";
import { assign, isAssignment, parseAssignments } from "./assign.ts";
import { readOne, rmCommand, setCommand, showCommand } from "./stored.ts";

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

export const show = showCommand("rule", ruleDetails);

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

export async function add(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    file: { type: "string", short: "f" }, in: { type: "string" }, out: { type: "string", multiple: true },
    ttl: { type: "string" }, dscp: { type: "string" }, name: { type: "string" }, id: { type: "string" },
  });
  const stray = positionals.find((p) => !isAssignment(p));
  if (stray !== undefined) throw new UsageError(`rules add takes FIELD=VALUE arguments, got "${stray}"`);
  const sets = parseAssignments(positionals);
  let body: Record<string, unknown>;
  if (v.file !== undefined) {
    const flags = ["in", "out", "ttl", "dscp", "name", "id"].filter((k) => v[k as keyof typeof v] !== undefined);
    if (flags.length) throw new UsageError(`-f and --${flags[0]} cannot be combined`);
    body = readOne(v.file, "rule", SERVER_FIELDS);
  } else {
    const given = new Set(sets.map((s) => s.path[0]));
    if ((!v.in && !given.has("input")) || (!v.out?.length && !given.has("outputs"))) {
      throw new UsageError("rules add needs -f FILE, or an input (--in or input.*=) and an output (--out or outputs[0].*=)");
    }
    // --ttl and --dscp apply to every --out; outputs[N].ttl= sets one.
    const extra = { ...(v.ttl !== undefined ? { ttl: int("--ttl", v.ttl) } : {}), ...(v.dscp !== undefined ? { dscp: v.dscp === "preserve" ? "preserve" : int("--dscp", v.dscp) } : {}) };
    body = {
      ...(v.id !== undefined ? { id: v.id } : {}),
      ...(v.name !== undefined ? { name: v.name } : {}),
      ...(v.in ? { input: parseEndpointArg("--in", v.in, true) } : {}),
      ...(v.out?.length ? { outputs: v.out.map((o) => ({ ...parseEndpointArg("--out", o, false), ...extra })) } : {}),
    };
  }
  assign(body, sets);
  const r = await connect(v).request<StoredRule>("POST", "/api/v1/rules", body);
  if (v.json) return (await printJson(r), 0);
  await print(`created rule ${r.id}${r.name ? ` "${r.name}"` : ""}: ${r.state}${r.reason ? ` (${r.reason})` : ""}\n` +
    `  ${describeInput(r.input)} -> ${r.outputs.map(describeOutput).join(", ")}`);
  return 0;
}

/** `rules set ID FIELD=VALUE...` (stored.ts). */
export const set = setCommand<StoredRule>("rule", ruleObject, SERVER_FIELDS, (r) => `updated rule ${r.id}: ${r.state}${r.reason ? ` (${r.reason})` : ""}`);

export const rm = rmCommand("rule");
