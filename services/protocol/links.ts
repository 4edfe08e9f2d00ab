// A link as the REST API stores and presents it: the link schema extended, never restated (as
// protocol/rules.ts does for rules).
import { z } from "zod";
import { linkObject } from "../../rules/link.ts";
import { RULE_STATES } from "./status.ts";

/** In the store: every field of a link, its id always set, and when it was written. */
export const storedLinkSchema = linkObject.extend({
  id: z.string(),
  createdAt: z.string().describe("ISO 8601"),
  updatedAt: z.string().describe("ISO 8601"),
});

/** In responses: the stored link and what the data plane makes of it. */
export const linkViewSchema = storedLinkSchema
  .extend({
    state: z.enum([...RULE_STATES, "unknown"]).describe("active: carrying frames both ways; waiting: an interface is missing; down: an interface is down; unknown: the supervisor cannot be asked"),
    reason: z.string().optional().describe("why it waits or is down"),
  })
  .meta({ id: "StoredLink" });

export type StoredLink = z.infer<typeof storedLinkSchema>;
export type LinkView = z.infer<typeof linkViewSchema>;

/** The fields the API adds to a link. */
export const LINK_SERVER_FIELDS: readonly string[] = Object.keys(linkViewSchema.shape).filter((k) => !(k in linkObject.shape));
