// A link as the REST API stores and presents it: the link schema extended, never restated (as
// protocol/rules.ts does for rules).
import type { z } from "zod";
import { linkObject } from "../../rules/link.ts";
import { storedFields, viewFields } from "./stored.ts";

/** In the store: every field of a link, its id always set, its revision, and when it was written. */
export const storedLinkSchema = linkObject.extend(storedFields("link"));

/** In responses: the stored link and what the data plane makes of it. */
export const linkViewSchema = storedLinkSchema
  .extend(viewFields("link", "active: carrying frames both ways; waiting: an interface is missing; down: an interface is down"))
  .meta({ id: "StoredLink" });

export type StoredLink = z.infer<typeof storedLinkSchema>;
export type LinkView = z.infer<typeof linkViewSchema>;

/** The fields the API adds to a link. */
export const LINK_SERVER_FIELDS: readonly string[] = Object.keys(linkViewSchema.shape).filter((k) => !(k in linkObject.shape));
