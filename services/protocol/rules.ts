// A rule as the REST API stores and presents it: the rule schema extended, never restated, so a
// field added to rules/schema.ts is in the store, the responses, the OpenAPI document and the CLI.
import { z } from "zod";
import { ruleObject } from "../../rules/schema.ts";
import { nodeRuleSchema } from "./fleet.ts";
import { RULE_STATES } from "./status.ts";

/** In the store: every field of a rule, its id always set, and when it was written. */
export const storedRuleSchema = ruleObject.extend({
  id: z.string(),
  revision: z.number().int().describe("the store's revision when the rule was last written: a new one with every write, never one used before"),
  createdAt: z.string().describe("ISO 8601"),
  updatedAt: z.string().describe("ISO 8601"),
});

/** In responses: the stored rule and what the data plane makes of it. */
export const ruleViewSchema = storedRuleSchema
  .extend({
    state: z.enum([...RULE_STATES, "error", "pending", "unknown"]).describe("active: forwarding; waiting: an interface is missing; down: its input or every output is down; " +
      "error: its node's data plane refused it; pending: its node has not applied this revision yet; unknown: the supervisor cannot be asked. " +
      "On this node for a rule this node runs, else on the rule's node"),
    reason: z.string().optional().describe("why it waits, is down, was refused, or forwards on fewer outputs"),
    nodes: z.array(nodeRuleSchema).optional().describe("with a PostgreSQL store: the rule on each node that runs it (every registered node for \"*\")"),
  })
  .meta({ id: "StoredRule" });

export type StoredRule = z.infer<typeof storedRuleSchema>;
export type RuleView = z.infer<typeof ruleViewSchema>;

/** The fields the API adds to a rule: what a rule taken from a response loses to be a rule again. */
export const SERVER_FIELDS: readonly string[] = Object.keys(ruleViewSchema.shape).filter((k) => !(k in ruleObject.shape));

/** A rule taken from a response or the store, without the fields the API adds. */
export function withoutServerFields<T extends Record<string, unknown>>(r: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r).filter(([k]) => !SERVER_FIELDS.includes(k)));
}
