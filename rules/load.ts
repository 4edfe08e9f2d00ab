// Reading a rules file: every problem is reported with the rule (index and name) and the field.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { z } from "zod";
import { configSchema, EVERY_NODE, type Config, type Rule } from "./schema.ts";

export class ConfigError extends Error {}

type Issue = z.core.$ZodIssue;

/** "rules[0] \"name\" outputs[0].ttl: ttl must be 1–255" */
export function describeIssue(raw: unknown, issue: Issue): string {
  const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "");
  const m = /^rules\[(\d+)\]\.?(.*)$/.exec(path);
  let where = path || "(file)";
  if (m) {
    const r = (raw as any)?.rules?.[Number(m[1])];
    const name = typeof r?.name === "string" ? ` "${r.name}"` : typeof r?.id === "string" ? ` (id ${r.id})` : "";
    where = `rule ${m[1]}${name}${m[2] ? ` field ${m[2]}` : ""}`;
  }
  let msg = issue.message;
  if (issue.code === "unrecognized_keys") msg = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  return `${where}: ${msg}`;
}

/** Stable id of a rule without one: derived from its input (and its node, when it names one:
 *  two hosts may take the same input), so a restart keeps it. A rule for every node derives the
 *  id it did before fleets existed. */
export function ruleId(r: Pick<Rule, "id" | "input" | "node">): string {
  if (r.id) return r.id;
  const i = r.input;
  const node = ruleNode(r);
  const key = `${i.interface}|${i.group}|${i.port}|${i.source ?? ""}${node === EVERY_NODE ? "" : `|${node}`}`;
  return "r-" + createHash("sha256").update(key).digest("hex").slice(0, 12);
}

export function inputKey(r: Pick<Rule, "input">): string {
  const i = r.input;
  return `${i.interface} ${i.group}:${i.port}${i.source ? ` from ${i.source}` : ""}`;
}

/** The node a rule runs on: a name, or "*" (also when it names none). */
export const ruleNode = (r: Pick<Rule, "node">): string => r.node ?? EVERY_NODE;

/** Whether the node called `node` runs the rule. */
export const runsOn = (r: Pick<Rule, "node">, node: string): boolean => ruleNode(r) === EVERY_NODE || ruleNode(r) === node;

/** Two rules some node would both run. */
export const shareNode = (a: Pick<Rule, "node">, b: Pick<Rule, "node">): boolean =>
  ruleNode(a) === EVERY_NODE || ruleNode(b) === EVERY_NODE || ruleNode(a) === ruleNode(b);

/** Two rules that would take the same packets on some node: the same input, on a node they share. */
export const sameInput = (a: Pick<Rule, "input" | "node">, b: Pick<Rule, "input" | "node">): boolean => inputKey(a) === inputKey(b) && shareNode(a, b);

export function parseConfig(raw: unknown): Config {
  const res = configSchema.safeParse(raw);
  if (!res.success) throw new ConfigError(res.error.issues.map((i) => describeIssue(raw, i)).join("\n"));
  const cfg = res.data;
  const ids = new Map<string, number>();
  const names = new Map<string, number>();
  /** the rules (by index) with each input: the same input on different nodes is no clash */
  const inputs = new Map<string, number[]>();
  const problems: string[] = [];
  cfg.rules.forEach((r, i) => {
    const label = `rule ${i}${r.name ? ` "${r.name}"` : ""}`;
    const id = ruleId(r);
    const clash = (m: Map<string, number>, k: string, what: string) => {
      if (m.has(k)) problems.push(`${label} field ${what}: same ${what} as rule ${m.get(k)}`);
      else m.set(k, i);
    };
    clash(ids, id, "id");
    if (r.name) clash(names, r.name, "name");
    const same = inputs.get(inputKey(r)) ?? [];
    const other = same.find((j) => shareNode(cfg.rules[j]!, r));
    if (other !== undefined) problems.push(`${label} field input: same input as rule ${other}${r.node !== undefined || cfg.rules[other]!.node !== undefined ? " on a node both run on" : ""}`);
    inputs.set(inputKey(r), [...same, i]);
  });
  if (problems.length) throw new ConfigError(problems.join("\n"));
  return cfg;
}

export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  try {
    return parseConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${path}:\n${e.message}`);
    throw e;
  }
}
