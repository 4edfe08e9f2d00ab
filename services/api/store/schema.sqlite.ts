// The tables for embedded SQLite (bun:sqlite). Keep the columns in step with schema.pg.ts.
import { sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { Link } from "../../../rules/link.ts";
import type { Rule } from "../../../rules/schema.ts";

export const rules = sqliteTable("rules", {
  id: text("id").primaryKey(),
  name: text("name").unique(),
  inputKey: text("input_key").notNull().unique(),
  /** The full validated rule, including its id. */
  body: text("body", { mode: "json" }).$type<Rule & { id: string }>().notNull(),
  /** ISO 8601 (toISOString), so text order is time order. */
  createdAt: text("created_at").notNull(),
  updatedAt: text("updated_at").notNull(),
});

export const links = sqliteTable("links", {
  id: text("id").primaryKey(),
  name: text("name").unique(),
  /** An interface serves one link at most, as a or as b, and is no rule's input: the store checks
   *  that (a column's uniqueness cannot see the other column, nor the rules). */
  a: text("a").notNull().unique(),
  b: text("b").notNull().unique(),
  /** The full validated link, including its id. */
  body: text("body", { mode: "json" }).$type<Link & { id: string }>().notNull(),
  createdAt: text("created_at").notNull(),
  updatedAt: text("updated_at").notNull(),
});
