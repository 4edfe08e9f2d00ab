// Rules as people read them (one line per input/output) and plain-text tables.
import { linkSchema, type Link } from "../rules/link.ts";
import { ruleSchema, type Output, type Rule, type RuleInput } from "../rules/schema.ts";
import { LINK_SERVER_FIELDS } from "../services/protocol/links.ts";
import { withoutServerFields, type RuleView } from "../services/protocol/rules.ts";

/** A rule as the API returns it. */
export type StoredRule = RuleView;

/** A rule (from a file or a response) in full, parsed by the schema: every field, defaults filled
 *  in, keys in the schema's order. Two rules are equal when these are; export and edit show it. */
export function fullRule(r: Rule | RuleInput | RuleView): Rule {
  return ruleSchema.parse(withoutServerFields(r as Record<string, unknown>));
}

/** The same for a link (from a file or a response). */
export function fullLink(l: object): Link {
  return linkSchema.parse(withoutServerFields(l as Record<string, unknown>, LINK_SERVER_FIELDS));
}

/** "239.1.1.1:5000", "[ff0e::1]:5000", or the address alone (another protocol has no port). */
const at = (group: string, port: number | undefined) => (port === undefined ? group : group.includes(":") ? `[${group}]:${port}` : `${group}:${port}`);
export const describeInput = (i: Rule["input"]) => `${i.interface}${i.vlan ? ` vlan ${i.vlan}` : ""} ${at(i.group, i.port)}${i.protocol && i.protocol !== "udp" ? ` ${i.protocol}` : ""}${i.source ? ` from ${i.source}` : ""}`;
export const describeOutput = (o: Output | RuleInput["outputs"][number]) => `${o.interface} ${at(o.group, o.port)} ttl ${o.ttl ?? 16} dscp ${o.dscp ?? 0}`;
export const ruleLabel = (r: { id?: string; name?: string }) => (r.name ? `${r.id} "${r.name}"` : `${r.id}`);

/** Columns padded to their widest cell; the last one is not padded, so lines end without blanks. */
export function table(head: string[], rows: (string | number)[][], align: ("l" | "r")[] = []): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const width = head.map((_, c) => Math.max(...cells.map((r) => [...(r[c] ?? "")].length)));
  return cells
    .map((r) =>
      r.map((s, c) => {
        if (c === r.length - 1 && align[c] !== "r") return s;
        const pad = " ".repeat(width[c] - [...s].length);
        return align[c] === "r" ? pad + s : s + pad;
      }).join("  "),
    )
    .join("\n");
}

export function ruleDetails(r: StoredRule): string {
  const rows: [string, string][] = [
    ["id", r.id],
    ...(r.name !== undefined ? [["name", r.name] as [string, string]] : []),
    ["state", r.state + (r.reason ? ` (${r.reason})` : "")],
    ["input", describeInput(r.input)],
    ...r.outputs.map((o, i) => [i === 0 ? "outputs" : "", describeOutput(o)] as [string, string]),
    ...(r.traceSampleRatio ? [["traced", `${r.traceSampleRatio} of packets`] as [string, string]] : []),
    // Every impairment field set, by its own name (the schema's, so a new one shows too).
    ...(r.impairment && Object.keys(r.impairment).length
      ? [["impairment", Object.entries(r.impairment).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(",") : v}`).join(", ")] as [string, string]] : []),
    ["created", r.createdAt],
    ["updated", r.updatedAt],
  ];
  return rows.map(([k, v]) => `${(k ? k + ":" : "").padEnd(12)}${v}`).join("\n");
}

/** Output is written and flushed before the process exits (the caller exits right after). */
export async function print(text: string): Promise<void> {
  await Bun.write(Bun.stdout, text.endsWith("\n") ? text : text + "\n");
}

export const printJson = (v: unknown) => print(JSON.stringify(v, null, 2));
