// /api/v1/links: CRUD (crud.ts), a link's part: its schemas, and how it meets the data plane.
import type { OpenAPIHono } from "@hono/zod-openapi";
import { linkPatchSchema, linkSchema, type Link } from "../../../rules/link.ts";
import { linkViewSchema, type StoredLink } from "../../protocol/links.ts";
import type { RuleStore } from "../store/index.ts";
import { toLink } from "../sync.ts";
import { mountCrud, type CrudDeps, type Resource } from "./crud.ts";

export interface LinksDeps extends CrudDeps {
  store: Pick<RuleStore, "links">;
}

export function mountLinks(app: OpenAPIHono, d: LinksDeps): void {
  const links: Resource<Link, StoredLink> = {
    noun: "link",
    schema: linkSchema,
    patchSchema: linkPatchSchema,
    viewSchema: linkViewSchema,
    store: d.store.links,
    plain: toLink,
    // The given fields replace the stored ones, flows and each direction whole.
    merge: (cur, patch) => ({ ...cur, ...patch }),
    applied: (a) => a.links,
    inStatus: (st) => st.links ?? [],
    conflict: {
      create: "same id or name as another link, or an interface that another link has or that is a rule's input (on a node both run on)",
      change: "clashes with another link or a rule (on a node both run on)",
    },
  };
  mountCrud(app, d, links);
}
