// The fleet as the routes see it: which node this is, the nodes, and a rule's or link's state on
// each node.
// With SQLite the store is one host's, so the fleet is this node alone (LocalFleet): no heartbeats,
// no reports, and a rule or link for another node is refused (nothing could ever run it). With PostgreSQL
// every relay pointed at the server is a node (PgFleet, fleet/shared.ts).
import { ruleNode } from "../../../rules/load.ts";
import type { InterfaceInfo } from "../../protocol/control.ts";
import { NODE_RULE_STATES, type NodeRule, type NodeRuleState, type NodeView } from "../../protocol/fleet.ts";
import type { Status } from "../../protocol/status.ts";
import type { Noun, Stored } from "../store/collection.ts";
import type { DataPlaneSync, Hello } from "../sync.ts";

export interface Fleet {
  /** a store that several nodes share (PostgreSQL) */
  readonly shared: boolean;
  /** The supervisor said hello: this node's name and start. */
  hello(h: Hello): void;
  /** What this node runs, or its states, changed. */
  changed(): void;
  /** Why a rule's or link's `node` cannot be stored here, or null. */
  refuseNode(node: string | undefined, noun: Noun): string | null;
  /** Each rule (link) on each node that runs it; null without a shared store (the field is left out). */
  states(noun: Noun, items: Stored[]): Promise<Map<string, NodeRule[]> | null>;
  /** After a write: waits (up to a second) until the other nodes the rules (links) concern, if up,
   *  have reported these revisions or the deletions. */
  settle(noun: Noun, put: Stored[], deleted: Stored[]): Promise<void>;
  nodes(): Promise<NodeView[]>;
  /** Removes a down node and its reports. */
  forget(name: string): Promise<"forgotten" | "not down" | "unknown">;
  close(): Promise<void>;
}

/** What the fleet needs from the rest of the API. */
export interface FleetDeps {
  sync: DataPlaneSync;
  status(): Promise<Status | null>;
  interfaces(): Promise<InterfaceInfo[] | null>;
  version: string;
}

export const zeroCounts = (): NodeView["rules"] => Object.fromEntries(NODE_RULE_STATES.map((s) => [s, 0])) as NodeView["rules"];

/** The supervisor's states of one kind. */
export const statesIn = (st: Status | null, noun: Noun): { id: string; state: NodeRuleState; reason?: string }[] => (noun === "rule" ? st?.rules : st?.links) ?? [];

/** This node's state of a rule or link, from its own supervisor: null when it cannot tell. */
export function localState(sync: DataPlaneSync, st: Status | null, noun: Noun, r: Stored): { state: NodeRuleState; revision?: number; reason?: string } | null {
  const refused = sync.refused[noun].get(r.id);
  if (refused?.revision === r.revision) return { state: "error", revision: r.revision, reason: refused.reason };
  const applied = sync.applied[noun].get(r.id);
  if (applied !== r.revision) return { state: "pending", ...(applied !== undefined ? { revision: applied } : {}) };
  const s = statesIn(st, noun).find((x) => x.id === r.id);
  return s ? { state: s.state, revision: applied, ...(s.reason ? { reason: s.reason } : {}) } : null;
}

/** The fleet of one node that SQLite is. */
export class LocalFleet implements Fleet {
  readonly shared = false;
  private last: Hello | null = null;

  constructor(private readonly d: FleetDeps) {}

  hello(h: Hello): void {
    this.last = h;
  }

  changed(): void {}

  refuseNode(node: string | undefined, noun: Noun): string | null {
    const self = this.d.sync.node;
    if (node === undefined || node === "*" || self === null || node === self) return null;
    return `this relay keeps its rules and links in SQLite, so it is a fleet of one (node ${self}): a ${noun} for node ${node} would never run. A fleet shares a PostgreSQL store (DATABASE_URL)`;
  }

  async states(): Promise<null> {
    return null;
  }

  async settle(): Promise<void> {}

  async nodes(): Promise<NodeView[]> {
    const h = this.last;
    if (!h) return [];
    const [st, ifs] = await Promise.all([this.d.status(), this.d.interfaces()]);
    const count = (noun: Noun) => {
      const c = zeroCounts();
      for (const x of statesIn(st, noun)) c[x.state]++;
      c.error = this.d.sync.refused[noun].size;
      return c;
    };
    const now = new Date().toISOString();
    return [{
      name: h.node, state: st?.state === "ready" ? "up" : "down", self: true, version: this.d.version, startedAt: h.startedAt,
      heartbeatAt: now, lastSeenMs: 0, interfaces: (ifs ?? []).map((i) => ({ name: i.name, state: i.state, addresses: i.addresses })), rules: count("rule"), links: count("link"),
    }];
  }

  async forget(name: string): Promise<"not down" | "unknown"> {
    return name === this.last?.node ? "not down" : "unknown";
  }

  async close(): Promise<void> {}
}

/** The nodes a rule or link concerns, of those known: its own, or every one. */
export const targets = (r: Stored, known: string[]): string[] => (ruleNode(r) === "*" ? known : [ruleNode(r)]);
