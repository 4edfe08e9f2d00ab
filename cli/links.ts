// `links ls | show | add | rm | set`: thin wrappers over /api/v1/links. The flags of `add` and the
// FIELDs of `set` are the schema's fields (fields.ts, assign.ts, as for rules), so a field added to
// rules/link.ts is here too.
import { linkObject } from "../rules/link.ts";
import { LINK_SERVER_FIELDS, type LinkView } from "../services/protocol/links.ts";
import { withoutServerFields } from "../services/protocol/rules.ts";
import { UsageError } from "./errors.ts";
import { Fields } from "./fields.ts";
import { print, printJson, table } from "./format.ts";
import { connect, parse } from "./options.ts";
import { readOne, rmCommand, setCommand, showCommand } from "./stored.ts";

export const FIELDS = new Fields(linkObject, "link");

export const LINKS_USAGE = `usage: mcrelay links ls | show ID | rm ID... | set ID FIELD=VALUE...
       mcrelay links add -f FILE|-
       mcrelay links add FLAGS, one per field:
         ${FIELDS.usage().join("\n         ")}
  A link: every frame received on a leaves on b and back, through each direction's impairment, or
  the first flow's whose match it meets. set changes the fields named, FIELD as errors name a field
  (aToB.loss, flows[0].match.ports; flows[N] one past the last adds one); an empty VALUE removes
  the field, an object or a list of objects takes JSON (flows=[]). A list of values is
  comma-separated (aToB.stages=a,b). node: the relay of a fleet whose interfaces a and b are.`;

/** A value as one line: a scalar as is, a list comma-joined, an object as its "key value" pairs. */
function inline(v: unknown): string {
  if (Array.isArray(v)) return v.map(inline).join(",");
  if (typeof v === "object" && v !== null) return Object.entries(v).map(([k, x]) => (typeof x === "object" && x !== null && !Array.isArray(x) ? `${k} {${inline(x)}}` : `${k} ${inline(x)}`)).join(" ");
  return String(v);
}

/** `show`: a row per field the link has (flows one a line), its state after its name. */
function details(l: LinkView): string {
  const rows: [string, string][] = [];
  for (const [k, v] of Object.entries(withoutServerFields(l, LINK_SERVER_FIELDS))) {
    if (k === "flows") (v as { name: string }[]).forEach(({ name, ...f }, i) => rows.push([i === 0 ? "flows" : "", `${name}: ${inline(f)}`]));
    else rows.push([k, inline(v)]);
    if (k === "name" || (k === "id" && l.name === undefined)) rows.push(["state", l.state + (l.reason ? ` (${l.reason})` : "")]);
  }
  rows.push(["created", l.createdAt], ["updated", l.updatedAt]);
  return rows.map(([k, v]) => `${(k ? k + ":" : "").padEnd(9)}${v}`).join("\n");
}

export async function ls(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {});
  if (positionals.length) throw new UsageError(`links ls takes no arguments, got "${positionals[0]}"`);
  const { links } = await connect(v).request<{ links: LinkView[] }>("GET", "/api/v1/links");
  if (v.json) return (await printJson(links), 0);
  if (!links.length) return (await print("no links"), 0);
  const rows = links.map((l) => [l.name ?? l.id, l.a, l.b, l.state, l.flows?.length ?? 0, l.reason ?? "-"]);
  await print(table(["NAME/ID", "A", "B", "STATE", "FLOWS", "REASON"], rows, ["l", "l", "l", "l", "r", "l"]));
  return 0;
}

export const show = showCommand("link", details);

const said = (verb: string, l: LinkView) => `${verb} link ${l.id}${l.name ? ` "${l.name}"` : ""}: ${l.a} <-> ${l.b}, ${l.state}${l.reason ? ` (${l.reason})` : ""}`;

export async function add(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, { file: { type: "string", short: "f" }, ...FIELDS.options() });
  if (positionals.length) throw new UsageError(`links add takes no arguments, got "${positionals[0]}"`);
  const given = Object.keys(FIELDS.options()).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
  if (v.file !== undefined && given.length) throw new UsageError(`-f and --${given[0]} cannot be combined`);
  if (v.file === undefined && !given.length) throw new UsageError("links add needs -f FILE, or the link's fields as flags");
  const body = v.file !== undefined ? readOne(v.file, "link", LINK_SERVER_FIELDS) : FIELDS.fromFlags(v);
  const l = await connect(v).request<LinkView>("POST", "/api/v1/links", body);
  await (v.json ? printJson(l) : print(said("created", l)));
  return 0;
}

/** `links set ID FIELD=VALUE...` (stored.ts). */
export const set = setCommand<LinkView>("link", linkObject, LINK_SERVER_FIELDS, (l) => said("updated", l));

export const rm = rmCommand("link");
