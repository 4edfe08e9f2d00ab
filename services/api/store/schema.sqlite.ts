// The rules table for embedded SQLite (bun:sqlite). Keep the columns in step with schema.pg.ts.
import { sqliteTable, text } from "drizzle-orm/sqlite-core";
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
