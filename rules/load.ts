// Reading a rules file: every problem is reported with the rule (index and name) and the field.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { z } from "zod";
import { configSchema, type Config } from "./config.ts";
import type { Link } from "./link.ts";
import { canonicalIp } from "./ip.ts";
import { UDP, protocolName, protocolNumber } from "./protocols.ts";
import { EVERY_NODE, ruleInputs, type Input, type Rule } from "./schema.ts";

export class ConfigError extends Error {}

type Issue = z.core.$ZodIssue;

/** "rules[0] \"name\" outputs[0].ttl: ttl must be 1–255" */
export function describeIssue(raw: unknown, issue: Issue): string {
  const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "");
  const m = /^(rules|links)\[(\d+)\]\.?(.*)$/.exec(path);
  let where = path || "(file)";
  if (m) {
    const r = (raw as any)?.[m[1]!]?.[Number(m[2])];
    const name = typeof r?.name === "string" ? ` "${r.name}"` : typeof r?.id === "string" ? ` (id ${r.id})` : "";
    where = `${m[1] === "rules" ? "rule" : "link"} ${m[2]}${name}${m[3] ? ` field ${m[3]}` : ""}`;
  }
  let msg = issue.message;
  if (issue.code === "unrecognized_keys") msg = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  return `${where}: ${msg}`;
}

/** Stable id of a rule without one: derived from its input (and its node, when it names one:
 *  two hosts may take the same input), so a restart keeps it. A rule for every node derives the
 *  id it did before fleets existed. */
export function ruleId(r: Pick<Rule, "id" | "input" | "inputs" | "node">): string {
  if (r.id) return r.id;
  const node = ruleNode(r);
  // Canonical addresses (two spellings of one IPv6 group are one input); a VLAN and a protocol only
  // when set, so the ids of rules written before them stay as they were. A redundant rule's
  // inputs, in order, joined by " + ".
  const one = (i: Input) => {
    const proto = protocolNumber(i.protocol);
    return `${i.interface}|${canonicalIp(i.group)}|${i.port ?? ""}|${i.source ? canonicalIp(i.source) : ""}${i.vlan ? `|vlan ${i.vlan}` : ""}`
      + `${proto === UDP ? "" : `|protocol ${proto}`}`;
  };
  const key = `${ruleInputs(r).map(one).join(" + ")}${node === EVERY_NODE ? "" : `|${node}`}`;
  return "r-" + createHash("sha256").update(key).digest("hex").slice(0, 12);
}

/** Stable id of a link without one: derived from its interfaces, in order (and its node, when it
 *  names one, as a rule's). */
export function linkId(l: Pick<Link, "id" | "a" | "b" | "node">): string {
  if (l.id) return l.id;
  const node = ruleNode(l);
  return "l-" + createHash("sha256").update(`${l.a}|${l.b}${node === EVERY_NODE ? "" : `|${node}`}`).digest("hex").slice(0, 12);
}

/** Interfaces a rule or link takes for itself: a link's ends, a rule's input. Any one of them may
 *  serve one link or be rule inputs, never both (the link would take the rule's frames) — on a
 *  node both run on: two hosts' interfaces of one name are two interfaces. */
export function interfaceClashes(rules: Pick<Rule, "input" | "inputs" | "name" | "id" | "node">[], links: Pick<Link, "a" | "b" | "name" | "id" | "node">[]):
  { link: number; field: "a" | "b"; message: string }[] {
  const out: { link: number; field: "a" | "b"; message: string }[] = [];
  if (!links.length) return out;
  // Lists grown in place: 16,384 rules on one interface, copied at each, took 0.7 s per change.
  const inputs = new Map<string, Pick<Rule, "input" | "inputs" | "name" | "id" | "node">[]>();
  for (const r of rules) {
    for (const ifname of new Set(ruleInputs(r).map((i) => i.interface))) {
      const on = inputs.get(ifname);
      if (on) on.push(r);
      else inputs.set(ifname, [r]);
    }
  }
  const taken = new Map<string, { label: string; node?: string }[]>();
  links.forEach((l, i) => {
    for (const field of ["a", "b"] as const) {
      const ifname = l[field];
      const other = taken.get(ifname)?.find((t) => shareNode(t, l));
      const rule = inputs.get(ifname)?.find((r) => shareNode(r, l));
      if (other) out.push({ link: i, field, message: `${ifname} already belongs to link ${other.label}` });
      else if (rule) out.push({ link: i, field, message: `${ifname} is the input of rule ${rule.name ?? ruleId(rule as Rule)}: an interface is a link's or rules' input, not both` });
      else {
        const here = taken.get(ifname);
        const t = { label: l.name ?? linkId(l), node: l.node };
        if (here) here.push(t);
        else taken.set(ifname, [t]);
      }
    }
  });
  return out;
}

/** "eth0 239.1.1.1:5000 from 10.0.0.2", "eth0 vlan 100 [ff0e::1]:5000", "eth0 239.1.1.1 esp": one
 *  per input, in canonical text (it is also the store's unique key: the keys of UDP inputs without
 *  a VLAN are what they always were). */
export function inputKey(r: Pick<Rule, "input" | "inputs">): string {
  return inputKeys(r).join(" + ");
}

/** The key of each of a rule's inputs (a redundant rule has 2–4): no two rules on a node share one. */
export function inputKeys(r: Pick<Rule, "input" | "inputs">): string[] {
  return ruleInputs(r).map(oneInputKey);
}

function oneInputKey(i: Input): string {
  const g = canonicalIp(i.group);
  const proto = protocolNumber(i.protocol);
  const at = proto === UDP ? `${g.includes(":") ? `[${g}]` : g}:${i.port}` : `${g} ${protocolName(proto)}`;
  return `${i.interface}${i.vlan ? ` vlan ${i.vlan}` : ""} ${at}${i.source ? ` from ${canonicalIp(i.source)}` : ""}`;
}

/** The node a rule (or a link: anything with a `node`) runs on: a name, or "*" (also when it names none). */
export const ruleNode = (r: Pick<Rule, "node">): string => r.node ?? EVERY_NODE;

/** Whether the node called `node` runs the rule (or link). */
export const runsOn = (r: Pick<Rule, "node">, node: string): boolean => ruleNode(r) === EVERY_NODE || ruleNode(r) === node;

/** Two rules (or links, or one of each) some node would both run. */
export const shareNode = (a: Pick<Rule, "node">, b: Pick<Rule, "node">): boolean =>
  ruleNode(a) === EVERY_NODE || ruleNode(b) === EVERY_NODE || ruleNode(a) === ruleNode(b);

/** Two rules that would take the same packets on some node: the same input, on a node they share. */
export const sameInput = (a: Pick<Rule, "input" | "inputs" | "node">, b: Pick<Rule, "input" | "inputs" | "node">): boolean =>
  shareNode(a, b) && inputKeys(a).some((k) => inputKeys(b).includes(k));

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
    inputKeys(r).forEach((k, p) => {
      const same = inputs.get(k) ?? [];
      const other = same.find((j) => j !== i && shareNode(cfg.rules[j]!, r));
      const field = r.inputs ? `inputs[${p}]` : "input";
      if (other !== undefined) problems.push(`${label} field ${field}: same input as rule ${other}${r.node !== undefined || cfg.rules[other]!.node !== undefined ? " on a node both run on" : ""}`);
      inputs.set(k, [...same, i]);
    });
  });
  const linkIds = new Map<string, number>();
  const linkNames = new Map<string, number>();
  cfg.links.forEach((l, i) => {
    const label = `link ${i}${l.name ? ` "${l.name}"` : ""}`;
    const id = linkId(l);
    if (linkIds.has(id)) problems.push(`${label} field id: same id as link ${linkIds.get(id)}`);
    else linkIds.set(id, i);
    if (l.name && linkNames.has(l.name)) problems.push(`${label} field name: same name as link ${linkNames.get(l.name)}`);
    else if (l.name) linkNames.set(l.name, i);
  });
  for (const c of interfaceClashes(cfg.rules, cfg.links)) {
    const l = cfg.links[c.link]!;
    problems.push(`link ${c.link}${l.name ? ` "${l.name}"` : ""} field ${c.field}: ${c.message}`);
  }
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
