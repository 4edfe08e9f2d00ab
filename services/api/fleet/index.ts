// The fleet as the routes see it: which node this is, the nodes, and a rule's state on each node.
// With SQLite the store is one host's, so the fleet is this node alone (LocalFleet): no heartbeats,
// no reports, and a rule for another node is refused (nothing could ever run it). With PostgreSQL
// every relay pointed at the server is a node (PgFleet, fleet/shared.ts).
import { ruleNode } from "../../../rules/load.ts";
import type { InterfaceInfo } from "../../protocol/control.ts";
import { NODE_RULE_STATES, type NodeRule, type NodeRuleState, type NodeView } from "../../protocol/fleet.ts";
import type { StoredRule } from "../../protocol/rules.ts";
import type { Status } from "../../protocol/status.ts";
import type { DataPlaneSync, Hello } from "../sync.ts";

export interface Fleet {
  /** a store that several nodes share (PostgreSQL) */
  readonly shared: boolean;
  /** The supervisor said hello: this node's name and start. */
  hello(h: Hello): void;
  /** What this node runs, or its states, changed. */
  changed(): void;
  /** Why a rule's `node` cannot be stored here, or null. */
  refuseNode(node: string | undefined): string | null;
  /** Each rule on each node that runs it; null without a shared store (the field is left out). */
  states(rules: StoredRule[]): Promise<Map<string, NodeRule[]> | null>;
  /** After a write: waits (up to a second) until the other nodes the rules concern, if up, have
   *  reported these revisions or the deletions. */
  settle(put: StoredRule[], deleted: StoredRule[]): Promise<void>;
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

/** This node's state of a rule, from its own supervisor: null when it cannot tell. */
export function localState(sync: DataPlaneSync, st: Status | null, r: StoredRule): { state: NodeRuleState; revision?: number; reason?: string } | null {
  const refused = sync.refused.get(r.id);
  if (refused?.revision === r.revision) return { state: "error", revision: r.revision, reason: refused.reason };
  const applied = sync.applied.get(r.id);
  if (applied !== r.revision) return { state: "pending", ...(applied !== undefined ? { revision: applied } : {}) };
  const s = st?.rules.find((x) => x.id === r.id);
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

  refuseNode(node: string | undefined): string | null {
    const self = this.d.sync.node;
    if (node === undefined || node === "*" || self === null || node === self) return null;
    return `this relay keeps its rules in SQLite, so it is a fleet of one (node ${self}): a rule for node ${node} would never run. A fleet shares a PostgreSQL store (DATABASE_URL)`;
  }

  async states(): Promise<null> {
    return null;
  }

  async settle(): Promise<void> {}

  async nodes(): Promise<NodeView[]> {
    const h = this.last;
    if (!h) return [];
    const [st, ifs] = await Promise.all([this.d.status(), this.d.interfaces()]);
    const rules = zeroCounts();
    for (const r of st?.rules ?? []) rules[r.state]++;
    rules.error = this.d.sync.refused.size;
    const now = new Date().toISOString();
    return [{
      name: h.node, state: st?.state === "ready" ? "up" : "down", self: true, version: this.d.version, startedAt: h.startedAt,
      heartbeatAt: now, lastSeenMs: 0, interfaces: (ifs ?? []).map((i) => ({ name: i.name, state: i.state, addresses: i.addresses })), rules,
    }];
  }

  async forget(name: string): Promise<"not down" | "unknown"> {
    return name === this.last?.node ? "not down" : "unknown";
  }

  async close(): Promise<void> {}
}

/** The nodes a rule concerns, of those known: its own, or every one. */
export const targets = (r: StoredRule, known: string[]): string[] => (ruleNode(r) === "*" ? known : [ruleNode(r)]);
