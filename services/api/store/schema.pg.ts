// The tables for PostgreSQL. Keep the rules and links tables' columns in step with
// schema.sqlite.ts; the fleet's tables (nodes, rule_status) exist only here: a fleet shares one
// PostgreSQL server.
import { bigint, index, integer, json, pgTable, primaryKey, text, timestamp, unique } from "drizzle-orm/pg-core";
import type { Link } from "../../../rules/link.ts";
import type { Rule } from "../../../rules/schema.ts";

const at = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

export const rules = pgTable("rules", {
  id: text("id").primaryKey(),
  name: text("name").unique(),
  inputKey: text("input_key").notNull(),
  /** the node that runs it, "*" for every node (also when the rule names none) */
  node: text("node").notNull().default("*"),
  /** the store's revision when the rule was last written (store_revision.value) */
  revision: bigint("revision", { mode: "number" }).notNull().default(0),
  /** The full validated rule, including its id. json (not jsonb) keeps the key order as written. */
  body: json("body").$type<Rule & { id: string }>().notNull(),
  createdAt: at("created_at").notNull(),
  updatedAt: at("updated_at").notNull(),
  // One input per node; a rule for every node against the others is checked by the store.
  // The clash check looks rules up by input alone: the unique index leads with node, so it needs its own.
}, (t) => [unique("rules_node_input_key_unique").on(t.node, t.inputKey), index("rules_input_key").on(t.inputKey)]);

export const links = pgTable("links", {
  id: text("id").primaryKey(),
  name: text("name").unique(),
  /** An interface serves one link at most, as a or as b, and is no rule's input, on each node: the
   *  store checks that (a constraint sees neither the other column, nor the rules, nor "*"). */
  a: text("a").notNull(),
  b: text("b").notNull(),
  /** the node whose interfaces a and b are, "*" for every node (also when the link names none) */
  node: text("node").notNull().default("*"),
  /** the store's revision when the link was last written (store_revision.value) */
  revision: bigint("revision", { mode: "number" }).notNull().default(0),
  /** The full validated link, including its id. */
  body: json("body").$type<Link & { id: string }>().notNull(),
  createdAt: at("created_at").notNull(),
  updatedAt: at("updated_at").notNull(),
  // The clash check looks links up by interface alone: the unique indexes lead with node.
}, (t) => [unique("links_node_a_unique").on(t.node, t.a), unique("links_node_b_unique").on(t.node, t.b), index("links_a").on(t.a), index("links_b").on(t.b)]);

/** One row (id 1): bumped by every write transaction, first thing. So revisions never repeat, and
 *  the row lock makes the fleet's writes take turns: a clash check sees every write before it. */
export const storeRevision = pgTable("store_revision", {
  id: integer("id").primaryKey(),
  value: bigint("value", { mode: "number" }).notNull(),
});

/** The fleet's relays, as each registers itself and beats (services/api/fleet/). */
export const nodes = pgTable("nodes", {
  name: text("name").primaryKey(),
  /** which start of which relay beats: another one under the same name is refused while this one is fresh */
  instance: text("instance").notNull(),
  version: text("version").notNull(),
  startedAt: at("started_at").notNull(),
  /** the database server's clock, so hosts' clocks need not agree */
  heartbeatAt: at("heartbeat_at").notNull(),
  interfaces: json("interfaces").$type<{ name: string; state: string; addresses: string[] }[]>().notNull(),
});

/** What each node runs of each rule and link: written by that node, from its own supervisor. */
export const ruleStatus = pgTable("rule_status", {
  /** "rule" or "link": which table rule_id is an id of (a rule and a link may share an id) */
  kind: text("kind").notNull().default("rule"),
  /** the rule's or link's id */
  ruleId: text("rule_id").notNull(),
  node: text("node").notNull(),
  /** the rule's (link's) revision this row is about */
  revision: bigint("revision", { mode: "number" }).notNull(),
  /** active | waiting | down (the supervisor's states) | error (it refused this revision) */
  state: text("state").notNull(),
  reason: text("reason"),
  updatedAt: at("updated_at").notNull(),
}, (t) => [primaryKey({ columns: [t.kind, t.ruleId, t.node] }), index("rule_status_node").on(t.node)]);
