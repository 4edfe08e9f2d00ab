// The rules table for embedded SQLite (bun:sqlite). Keep the columns in step with schema.pg.ts.
import { index, integer, sqliteTable, text, unique } from "drizzle-orm/sqlite-core";
import type { Rule } from "../../../rules/schema.ts";

export const rules = sqliteTable("rules", {
  id: text("id").primaryKey(),
  name: text("name").unique(),
  inputKey: text("input_key").notNull(),
  /** the node that runs it, "*" for every node (also when the rule names none) */
  node: text("node").notNull().default("*"),
  /** the store's revision when the rule was last written (store_revision.value) */
  revision: integer("revision").notNull().default(0),
  /** The full validated rule, including its id. */
  body: text("body", { mode: "json" }).$type<Rule & { id: string }>().notNull(),
  /** ISO 8601 (toISOString), so text order is time order. */
  createdAt: text("created_at").notNull(),
  updatedAt: text("updated_at").notNull(),
  // The clash check looks rules up by input alone: the unique index leads with node, so it needs its own.
}, (t) => [unique("rules_node_input_key_unique").on(t.node, t.inputKey), index("rules_input_key").on(t.inputKey)]);

/** One row (id 1), bumped by every write transaction: revisions never repeat. */
export const storeRevision = sqliteTable("store_revision", {
  id: integer("id").primaryKey(),
  value: integer("value").notNull(),
});
