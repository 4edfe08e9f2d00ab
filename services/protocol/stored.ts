// What the REST API adds to anything it stores (rules, links), declared once: the server's fields
// in the store, and the state in responses (this node's data plane, or in a fleet each node's).
// protocol/rules.ts and protocol/links.ts extend their kind's schema with these.
import { z } from "zod";
import { nodeRuleSchema } from "./fleet.ts";
import { RULE_STATES } from "./status.ts";

/** In the store: the id always set, the revision it was last written at, and when. */
export const storedFields = (noun: "rule" | "link") => ({
  id: z.string(),
  revision: z.number().int().describe(`the store's revision when the ${noun} was last written: a new one with every write (of any rule or link), never one used before`),
  createdAt: z.string().describe("ISO 8601"),
  updatedAt: z.string().describe("ISO 8601"),
});

/** The states an answer gives: the data plane's (RULE_STATES, described by `dataPlane`), and the fleet's. */
export const STORED_STATES = [...RULE_STATES, "error", "pending", "unknown"] as const;
export type StoredState = (typeof STORED_STATES)[number];

/** In responses: its state (on this node for one this node runs, else on its node), and in a fleet on each node. */
export const viewFields = (noun: "rule" | "link", dataPlane: string) => ({
  state: z.enum(STORED_STATES).describe(`${dataPlane}; error: its node's data plane refused it; pending: its node has not applied this revision yet; ` +
    `unknown: the supervisor cannot be asked. On this node for a ${noun} this node runs, else on the ${noun}'s node`),
  reason: z.string().optional().describe(`why it waits, is down, was refused${noun === "rule" ? ", or forwards on fewer outputs" : ""}`),
  nodes: z.array(nodeRuleSchema).optional().describe(`with a PostgreSQL store: the ${noun} on each node that runs it (every registered node for "*")`),
});
