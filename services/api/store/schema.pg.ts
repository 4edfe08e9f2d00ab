// The tables for PostgreSQL. Keep the columns in step with schema.sqlite.ts.
import { json, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import type { Link } from "../../../rules/link.ts";
import type { Rule } from "../../../rules/schema.ts";

export const rules = pgTable("rules", {
  id: text("id").primaryKey(),
  name: text("name").unique(),
  inputKey: text("input_key").notNull().unique(),
  /** The full validated rule, including its id. json (not jsonb) keeps the key order as written. */
  body: json("body").$type<Rule & { id: string }>().notNull(),
  createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull(),
});

export const links = pgTable("links", {
  id: text("id").primaryKey(),
  name: text("name").unique(),
  /** An interface serves one link at most, as a or as b, and is no rule's input: the store checks
   *  that (a column's uniqueness cannot see the other column, nor the rules). */
  a: text("a").notNull().unique(),
  b: text("b").notNull().unique(),
  /** The full validated link, including its id. */
  body: json("body").$type<Link & { id: string }>().notNull(),
  createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull(),
});
