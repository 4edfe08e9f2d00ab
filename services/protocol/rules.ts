// A rule as the REST API stores and presents it: the rule schema extended, never restated, so a
// field added to rules/schema.ts is in the store, the responses, the OpenAPI document and the CLI.
import type { z } from "zod";
import { ruleObject } from "../../rules/schema.ts";
import { storedFields, viewFields } from "./stored.ts";

/** In the store: every field of a rule, its id always set, its revision, and when it was written. */
export const storedRuleSchema = ruleObject.extend(storedFields("rule"));

/** In responses: the stored rule and what the data plane makes of it. */
export const ruleViewSchema = storedRuleSchema
  .extend(viewFields("rule", "active: forwarding; waiting: an interface is missing; down: its input or every output is down"))
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
