// The fleet's shapes: a node as GET /api/v1/nodes presents it, and a rule's (link's) state on one node.
// Relays that share one PostgreSQL store are a fleet; each registers itself (a row in `nodes`,
// beaten every HEARTBEAT_MS) and reports what it runs of each rule and link (`rule_status`).
import { z } from "zod";
import { RULE_STATES } from "./status.ts";

/** up: beat within STALE_MS; stale: within DOWN_MS (it may be busy, or gone); down: longer ago. */
export const NODE_STATES = ["up", "stale", "down"] as const;
export type NodeState = (typeof NODE_STATES)[number];

/** How often a node beats. Three missed beats make it stale; DOWN_MS without one, down. */
export const HEARTBEAT_MS = 2000;
export const STALE_MS = 3 * HEARTBEAT_MS;
export const DOWN_MS = 15_000;

export function nodeState(lastSeenMs: number): NodeState {
  return lastSeenMs < STALE_MS ? "up" : lastSeenMs < DOWN_MS ? "stale" : "down";
}

/** A rule (or link) on one node: the supervisor's states, error (that node refused it), pending (it has not
 *  applied this revision yet: a change on its way, or the node is not up). */
export const NODE_RULE_STATES = [...RULE_STATES, "error", "pending"] as const;
export type NodeRuleState = (typeof NODE_RULE_STATES)[number];

export const nodeRuleSchema = z.object({
  node: z.string(),
  state: z.enum(NODE_RULE_STATES).describe("active, waiting, down: as the node's supervisor says; error: the node refused this revision (reason says why); pending: the node has not applied this revision yet"),
  revision: z.number().int().optional().describe("the revision the node reported: equal to the rule's (link's) own when it is in force there (absent: it reported none)"),
  reason: z.string().optional(),
  updatedAt: z.string().optional().describe("when the node reported it (ISO 8601)"),
}).meta({ id: "NodeRule" });
export type NodeRule = z.infer<typeof nodeRuleSchema>;

const count = z.number().int().min(0);
const counts = z.object(Object.fromEntries(NODE_RULE_STATES.map((s) => [s, count])) as Record<NodeRuleState, typeof count>);

export const nodeSchema = z.object({
  name: z.string(),
  state: z.enum(NODE_STATES).describe(`up: its last heartbeat is under ${STALE_MS / 1000} s old; stale: under ${DOWN_MS / 1000} s; down: older`),
  self: z.boolean().describe("the node whose API answers"),
  version: z.string(),
  startedAt: z.string().describe("when its supervisor started (ISO 8601)"),
  heartbeatAt: z.string().describe("its last heartbeat, by the database server's clock (ISO 8601)"),
  lastSeenMs: z.number().describe("how long ago that was"),
  interfaces: z.array(z.object({ name: z.string(), state: z.string(), addresses: z.array(z.string()) })),
  rules: counts.describe("how many of the rules it runs are in each state (pending: not applied at their current revision)"),
  links: counts.describe("how many of the links it runs are in each state (pending: not applied at their current revision)"),
}).meta({ id: "Node" });
export type NodeView = z.infer<typeof nodeSchema>;

/** What a node's heartbeat says about it. */
export interface NodeInterface {
  name: string;
  state: string;
  addresses: string[];
}
