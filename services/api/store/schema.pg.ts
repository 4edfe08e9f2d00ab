// The rules table for PostgreSQL. Keep the columns in step with schema.sqlite.ts.
import { json, pgTable, text, timestamp } from "drizzle-orm/pg-core";
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
