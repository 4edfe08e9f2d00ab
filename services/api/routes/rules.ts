// /api/v1/rules: CRUD (crud.ts), a rule's part: its schemas, and how it meets the data plane.
import type { OpenAPIHono } from "@hono/zod-openapi";
import { rulePatchSchema, ruleSchema, type Rule } from "../../../rules/schema.ts";
import { ruleViewSchema, type StoredRule } from "../../protocol/rules.ts";
import type { RuleStore } from "../store/index.ts";
import { toRule } from "../sync.ts";
import { mountCrud, type CrudDeps, type Resource } from "./crud.ts";

export interface RulesDeps extends CrudDeps {
  store: RuleStore;
}

export function mountRules(app: OpenAPIHono, d: RulesDeps): void {
  const rules: Resource<Rule, StoredRule> = {
    noun: "rule",
    schema: ruleSchema,
    patchSchema: rulePatchSchema,
    viewSchema: ruleViewSchema,
    store: d.store.rules,
    plain: toRule,
    // The input field by field, everything else whole.
    merge: (cur, patch) => ({ ...cur, ...patch, input: { ...cur.input, ...(patch.input as object | undefined) } }),
    applied: (a) => a.rules,
    inStatus: (st) => st.rules,
    conflict: {
      create: "same id, name or input as another rule, or an input on a link's interface (on a node both run on)",
      change: "clashes with another rule or a link (on a node both run on)",
    },
  };
  mountCrud(app, d, rules);
}
