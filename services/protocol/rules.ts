// A rule as the REST API stores and presents it: the rule schema extended, never restated, so a
// field added to rules/schema.ts is in the store, the responses, the OpenAPI document and the CLI.
import { z } from "zod";
import { ruleObject } from "../../rules/schema.ts";
import { RULE_STATES } from "./status.ts";

/** In the store: every field of a rule, its id always set, and when it was written. */
export const storedRuleSchema = ruleObject.extend({
  id: z.string(),
  createdAt: z.string().describe("ISO 8601"),
  updatedAt: z.string().describe("ISO 8601"),
});

/** In responses: the stored rule and what the data plane makes of it. */
export const ruleViewSchema = storedRuleSchema
  .extend({
    state: z.enum([...RULE_STATES, "unknown"]).describe("active: forwarding; waiting: an interface is missing; down: its input or every output is down; unknown: the supervisor cannot be asked"),
    reason: z.string().optional().describe("why it waits, is down, or forwards on fewer outputs"),
  })
  .meta({ id: "StoredRule" });

export type StoredRule = z.infer<typeof storedRuleSchema>;
export type RuleView = z.infer<typeof ruleViewSchema>;

/** The fields the API adds to a rule: what a rule taken from a response loses to be a rule again. */
export const SERVER_FIELDS: readonly string[] = Object.keys(ruleViewSchema.shape).filter((k) => !(k in ruleObject.shape));

/** A rule taken from a response or the store, without the fields the API adds (a link's, with
 *  LINK_SERVER_FIELDS from links.ts). */
export function withoutServerFields<T extends Record<string, unknown>>(r: T, fields: readonly string[] = SERVER_FIELDS): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r).filter(([k]) => !fields.includes(k)));
}
