// The tables for embedded SQLite (bun:sqlite). Keep the columns in step with schema.pg.ts.
import { index, integer, sqliteTable, text, unique } from "drizzle-orm/sqlite-core";
import type { Link } from "../../../rules/link.ts";
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

export const links = sqliteTable("links", {
  id: text("id").primaryKey(),
  name: text("name").unique(),
  /** An interface serves one link at most, as a or as b, and is no rule's input, on each node: the
   *  store checks that (a constraint sees neither the other column, nor the rules, nor "*"). */
  a: text("a").notNull(),
  b: text("b").notNull(),
  /** the node whose interfaces a and b are, "*" for every node (also when the link names none) */
  node: text("node").notNull().default("*"),
  /** the store's revision when the link was last written (store_revision.value) */
  revision: integer("revision").notNull().default(0),
  /** The full validated link, including its id. */
  body: text("body", { mode: "json" }).$type<Link & { id: string }>().notNull(),
  /** ISO 8601 (toISOString), so text order is time order. */
  createdAt: text("created_at").notNull(),
  updatedAt: text("updated_at").notNull(),
  // The clash check looks links up by interface alone: the unique indexes lead with node.
}, (t) => [unique("links_node_a_unique").on(t.node, t.a), unique("links_node_b_unique").on(t.node, t.b), index("links_a").on(t.a), index("links_b").on(t.b)]);

/** One row (id 1), bumped by every write transaction: revisions never repeat. */
export const storeRevision = sqliteTable("store_revision", {
  id: integer("id").primaryKey(),
  value: integer("value").notNull(),
});
