// Rules and links as the store keeps them: their schema, id, columns, and what two of them may
// not share. An interface is a link's (one link's, as a or b) or rules' input, never both: the
// link would take the rules' frames. Each of these holds on a node both run on (a rule or link
// for every node shares every node): two hosts' interfaces of one name are two interfaces.
import { linkSchema, type Link } from "../../../rules/link.ts";
import { inputKey, linkId, ruleId, ruleNode, shareNode } from "../../../rules/load.ts";
import { ruleSchema, type Rule, type RuleInput } from "../../../rules/schema.ts";
import type { z } from "zod";
import type { LinkRow, Queries, Row } from "./backend.ts";
import type { Kind } from "./collection.ts";
import { ConflictError } from "./errors.ts";

export type LinkInput = z.input<typeof linkSchema>;

const NOT_BOTH = "an interface is a link's or rules' input, not both";

const where = (node: string) => (node === "*" ? "every node" : `node ${node}`);
/** Where the other one runs, when a node is named: the clash is on a node both run on. */
const on = (other: { node: string }, self: { node?: string }) => (other.node === "*" && ruleNode(self) === "*" ? "" : ` (it runs on ${where(other.node)})`);

export const RULES: Kind<RuleInput, Rule, Row> = {
  noun: "rule",
  table: (q) => q.rules,
  parse: (input) => ruleSchema.parse(input),
  id: ruleId,
  row: (rule, id, revision, createdAt, updatedAt) => {
    const { id: _, ...rest } = rule;
    return { id, name: rule.name ?? null, inputKey: inputKey(rule), node: ruleNode(rule), revision, body: { id, ...rest }, createdAt, updatedAt };
  },
  async clashes(q, rule, id, explicitId, self) {
    const key = inputKey(rule);
    const others = (await q.rules.clashes(id, rule.name, key)).filter((r) => r.id !== self);
    const idClash = others.find((r) => r.id === id);
    const nameClash = rule.name === undefined ? undefined : others.find((r) => r.name === rule.name);
    // The same input on two nodes is two hosts' business; on a node both run on, a clash.
    const inputClash = others.find((r) => r.inputKey === key && shareNode(r, rule));
    if (idClash && explicitId) throw new ConflictError("id", idClash.id, `a rule with id "${id}" already exists`);
    if (nameClash) throw new ConflictError("name", nameClash.id, `name "${rule.name}" is already used by rule ${nameClash.id}`);
    if (inputClash) throw new ConflictError("input", inputClash.id, `input ${key} is already used by rule ${inputClash.id}${on(inputClash, rule)}`);
    if (idClash) throw new ConflictError("id", idClash.id, `a rule with id "${id}" already exists`);
  },
  async crossClashes(q, rules) {
    if (!rules.length) return;
    const links = await q.links.clashes({ ifnames: [...new Set(rules.map((r) => r.input.interface))] });
    if (!links.length) return;
    for (const rule of rules) {
      const ifname = rule.input.interface;
      const link = links.find((l) => (l.a === ifname || l.b === ifname) && shareNode(l, rule));
      if (link) throw new ConflictError("input", link.id, `interface ${ifname} belongs to link ${link.id}${on(link, rule)}: ${NOT_BOTH}`, ["input", "interface"]);
    }
  },
};

export const LINKS: Kind<LinkInput, Link, LinkRow> = {
  noun: "link",
  table: (q) => q.links,
  parse: (input) => linkSchema.parse(input),
  id: linkId,
  row: (link, id, revision, createdAt, updatedAt) => {
    const { id: _, ...rest } = link;
    return { id, name: link.name ?? null, a: link.a, b: link.b, node: ruleNode(link), revision, body: { id, ...rest }, createdAt, updatedAt };
  },
  async clashes(q, link, id, explicitId, self) {
    const others = (await q.links.clashes({ id, name: link.name, ifnames: [link.a, link.b] })).filter((l) => l.id !== self);
    const idClash = others.find((l) => l.id === id);
    const nameClash = link.name === undefined ? undefined : others.find((l) => l.name === link.name);
    if (idClash && explicitId) throw new ConflictError("id", idClash.id, `a link with id "${id}" already exists`);
    if (nameClash) throw new ConflictError("name", nameClash.id, `name "${link.name}" is already used by link ${nameClash.id}`);
    for (const field of ["a", "b"] as const) {
      const ifname = link[field];
      const other = others.find((l) => (l.a === ifname || l.b === ifname) && shareNode(l, link));
      if (other) throw new ConflictError(field, other.id, `interface ${ifname} already belongs to link ${other.id}${on(other, link)}`);
    }
    if (idClash) throw new ConflictError("id", idClash.id, `a link with id "${id}" already exists`);
  },
  async crossClashes(q, links) {
    if (!links.length) return;
    const inputs = await q.rules.inputsOn([...new Set(links.flatMap((l) => [l.a, l.b]))]);
    if (!inputs.length) return;
    for (const link of links) {
      for (const field of ["a", "b"] as const) {
        const rule = inputs.find((r) => r.body.input.interface === link[field] && shareNode(r, link));
        if (rule) throw new ConflictError(field, rule.id, `interface ${link[field]} is the input of rule ${rule.id}${on(rule, link)}: ${NOT_BOTH}`);
      }
    }
  },
};
