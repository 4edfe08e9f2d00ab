// `apply -f FILE` makes a rules file (its rules and links) the desired state; `export` prints one
// that apply accepts.
import { readFileSync } from "node:fs";
import { ConfigError, linkId, parseConfig, ruleId } from "../rules/load.ts";
import type { Output } from "../rules/schema.ts";
import type { LinkView } from "../services/protocol/links.ts";
import { ApiError, CliError, UsageError, describeError } from "./errors.ts";
import { describeInput, describeOutput, fullLink, fullRule, print, printJson, ruleLabel, type StoredRule } from "./format.ts";
import { connect, parse } from "./options.ts";
import { plan, type Change, type Desired, type Plan, type Step } from "./plan.ts";

function readRulesFile(path: string): Desired & { hasPool: boolean } {
  const name = path === "-" ? "stdin" : path;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path === "-" ? 0 : path, "utf8"));
  } catch (e) {
    throw new CliError(e instanceof SyntaxError ? `${name} is not valid JSON: ${e.message}` : `cannot read ${name}: ${(e as Error).message}`);
  }
  try {
    const cfg = parseConfig(raw);
    return { rules: cfg.rules.map((r) => ({ ...r, id: ruleId(r) })), links: cfg.links.map((l) => ({ ...l, id: linkId(l) })),
      hasPool: typeof raw === "object" && raw !== null && "pool" in raw };
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(`${name} is not a valid rules file:\n  ${e.message.split("\n").join("\n  ")}`);
    throw e;
  }
}

/** A whole output added or removed reads as in `rules ls`; anything else as JSON. */
function show(v: unknown, path: string): string {
  if (v === undefined) return "(none)";
  if (/^outputs\[\d+\]$/.test(path) && typeof v === "object") return describeOutput(v as Output);
  return JSON.stringify(v);
}

/** A rule as `rules ls` reads, a link as "link ID "name"" and its ends. */
function describeChange(c: Change): string {
  const label = c.kind === "rule" ? ruleLabel(c.rule) : `link ${ruleLabel(c.link)}`;
  const what = c.kind === "link" ? `${c.link.a} <-> ${c.link.b}` : c.op === "delete" ? describeInput(c.rule.input) : `${describeInput(c.rule.input)} -> ${c.rule.outputs.map(describeOutput).join(", ")}`;
  switch (c.op) {
    case "create":
      return `+ create ${label}: ${what}`;
    case "update":
      return [`~ update ${label}`, ...c.fields.map((f) => `    ${f.path}: ${show(f.from, f.path)} -> ${show(f.to, f.path)}`)].join("\n");
    case "delete":
      return `- delete ${label}: ${what}`;
  }
}

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
const stepLabel = (s: Step) => `${s.action === "put" ? "update" : s.action} ${s.kind === "link" ? "link " : ""}${s.id}`;

function describePlan(p: Plan): string {
  const n = (op: Change["op"]) => p.changes.filter((c) => c.op === op).length;
  const lines = p.changes.map(describeChange);
  const upToDate = [...(p.unchanged.length || !p.unchangedLinks.length ? [count(p.unchanged.length, "rule")] : []),
    ...(p.unchangedLinks.length ? [count(p.unchangedLinks.length, "link")] : [])].join(" and ");
  lines.push(p.changes.length
    ? `${n("create")} to create, ${n("update")} to update, ${n("delete")} to delete, ${p.unchanged.length + p.unchangedLinks.length} unchanged`
    : `no changes (${upToDate} up to date)`);
  const kept = [...p.kept, ...p.keptLinks.map((id) => `link ${id}`)];
  if (kept.length) lines.push(`kept (not in the file; --prune would delete): ${kept.join(", ")}`);
  return lines.join("\n");
}

export async function apply(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    file: { type: "string", short: "f" }, "dry-run": { type: "boolean", default: false }, prune: { type: "boolean", default: true },
  });
  if (positionals.length) throw new UsageError(`apply takes no arguments, got "${positionals[0]}" (the file goes after -f)`);
  if (v.file === undefined) throw new UsageError("apply needs -f FILE (or -f - for stdin)");
  const file = readRulesFile(v.file);
  if (file.hasPool && !v.json) console.error("note: the file's pool settings are ignored; they take effect when the relay starts");
  const client = connect(v);
  const p = plan(file, await current(client), v.prune);
  const json = (extra: object) => ({ dryRun: v["dry-run"], changes: p.changes, unchanged: p.unchanged, kept: p.kept, unchangedLinks: p.unchangedLinks, keptLinks: p.keptLinks, ...extra });
  if (!v.json) await print(describePlan(p));
  if (v["dry-run"] || !p.steps.length) {
    if (v.json) await printJson(json({ applied: 0 }));
    return 0;
  }

  const waiting: string[] = [];
  let done = 0;
  try {
    for (const s of p.steps) {
      const r = await run(client, s);
      if (r?.state === "waiting") waiting.push(`${s.kind === "link" ? "link " : ""}${r.id}: waiting${r.reason ? ` (${r.reason})` : ""}`);
      done++;
    }
  } catch (e) {
    if (!(e instanceof CliError) || (e instanceof ApiError && e.status === 401)) throw e;
    const s = p.steps[done];
    console.error(describeError(e, `${stepLabel(s)} failed`));
    console.error(`  ${done} of ${p.steps.length} requests done; not done: ${p.steps.slice(done).map(stepLabel).join(", ")}`);
    if (v.json) await printJson(json({ applied: done, failed: s }));
    return 1;
  }
  if (v.json) return (await printJson(json({ applied: done })), 0);
  const n = (op: Change["op"]) => p.changes.filter((c) => c.op === op).length;
  await print(`applied: ${n("create")} created, ${n("update")} updated, ${n("delete")} deleted` + waiting.map((w) => `\n  ${w}`).join(""));
  return 0;
}

/** The server's rules and links. */
async function current(client: ReturnType<typeof connect>): Promise<{ rules: StoredRule[]; links: LinkView[] }> {
  const [{ rules }, { links }] = await Promise.all([
    client.request<{ rules: StoredRule[] }>("GET", "/api/v1/rules"), client.request<{ links: LinkView[] }>("GET", "/api/v1/links")]);
  return { rules, links };
}

async function run(client: ReturnType<typeof connect>, s: Step): Promise<{ id: string; state: string; reason?: string } | null> {
  const base = `/api/v1/${s.kind}s`;
  const path = `${base}/${encodeURIComponent(s.id)}`;
  switch (s.action) {
    case "create": return client.request("POST", base, s.kind === "rule" ? s.rule : s.link);
    case "put": return client.request("PUT", path, s.kind === "rule" ? s.rule : s.link);
    case "delete": return client.request("DELETE", path);
  }
}

export async function exportRules(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {});
  if (positionals.length) throw new UsageError(`export takes no arguments, got "${positionals[0]}"`);
  const { rules, links } = await current(connect(v));
  await printJson({ rules: rules.map(fullRule), links: links.map(fullLink) });
  return 0;
}
