// `rules edit ID`: the rule in $VISUAL/$EDITOR, then PUT. A rejected edit stays on disk so the
// work is not lost; the message names the file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiError, CliError, UsageError } from "./errors.ts";
import { fullRule, print, printJson, type StoredRule } from "./format.ts";
import { connect, parse } from "./options.ts";
import { context } from "./stored.ts";

export async function edit(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {});
  if (positionals.length !== 1) throw new UsageError("rules edit takes one rule id");
  const id = positionals[0];
  const client = connect(v);
  const path = `/api/v1/rules/${encodeURIComponent(id)}`;
  const before = fullRule(await client.request<StoredRule>("GET", path).catch(context("rule", id)));
  const beforeText = JSON.stringify(before, null, 2) + "\n";

  const dir = mkdtempSync(join(tmpdir(), "mcrelay-edit-"));
  const file = join(dir, `${id.replace(/[^A-Za-z0-9._-]/g, "_")}.json`);
  writeFileSync(file, beforeText, { mode: 0o600 });
  const discard = () => rmSync(dir, { recursive: true, force: true });

  const editor = process.env.VISUAL || process.env.EDITOR || "vi";
  // Through sh, so EDITOR may carry arguments ("code --wait"); the file is passed as "$1".
  const p = Bun.spawn(["sh", "-c", `${editor} "$1"`, "sh", file], { stdin: "inherit", stdout: "inherit", stderr: "inherit" });
  const code = await p.exited;
  if (code !== 0) {
    discard();
    throw new CliError(`the editor (${editor}) exited with ${code}; rule ${id} not changed`);
  }

  const text = readFileSync(file, "utf8");
  let edited: unknown;
  try {
    edited = JSON.parse(text);
  } catch (e) {
    throw new CliError(`the edited rule is not valid JSON: ${(e as Error).message}\n  (your edit is kept in ${file})`);
  }
  if (text === beforeText || JSON.stringify(edited) === JSON.stringify(before)) {
    discard();
    await print(`rule ${id} unchanged: nothing to do`);
    return 0;
  }
  let r: StoredRule;
  try {
    r = await client.request<StoredRule>("PUT", path, edited);
  } catch (e) {
    if (e instanceof ApiError) throw new ApiError(e.status, e.error, e.issues, `${e.hint ? e.hint + "; " : ""}your edit is kept in ${file}`);
    if (e instanceof CliError) throw new CliError(`${e.message}\n  (your edit is kept in ${file})`);
    throw e;
  }
  discard();
  if (v.json) return (await printJson(r), 0);
  await print(`updated rule ${r.id}: ${r.state}${r.reason ? ` (${r.reason})` : ""}`);
  return 0;
}
