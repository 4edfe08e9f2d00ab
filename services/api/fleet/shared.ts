// A fleet that shares one PostgreSQL store: every relay pointed at it is a node. This is how one
// node's API answers about all of them — the nodes from their heartbeats, a rule or link on each
// node from that node's reports (this node's own from its supervisor, which is fresher) — and how it keeps
// its own part going (fleet/agent.ts, fleet/report.ts).
import { nodeState, type NodeRule, type NodeState, type NodeView } from "../../protocol/fleet.ts";
import type { SupervisorLink } from "../link.ts";
import type { Noun, Stored } from "../store/collection.ts";
import type { PgBackend } from "../store/pg.ts";
import type { Hello } from "../sync.ts";
import { FleetAgent } from "./agent.ts";
import { localState, targets, zeroCounts, type Fleet, type FleetDeps } from "./index.ts";
import { StatusReporter } from "./report.ts";
import { FleetTables, type StatusRow } from "./tables.ts";

/** How long a write waits for the other nodes' reports before it is answered anyway. */
const SETTLE_MS = 1000;
/** Past this many rules (links), every report of the kind is read at once rather than by id. */
const BY_ID = 500;

export class PgFleet implements Fleet {
  readonly shared = true;
  private readonly tables: FleetTables;
  private readonly reporter: StatusReporter;
  private readonly agent: FleetAgent;

  constructor(pg: PgBackend, link: SupervisorLink, private readonly d: FleetDeps, log: ConstructorParameters<typeof FleetAgent>[6]) {
    this.tables = new FleetTables(pg);
    this.reporter = new StatusReporter(this.tables, d.sync, d.status, log);
    this.agent = new FleetAgent(pg.url, this.tables, d.sync, link, this.reporter, d.version, log);
  }

  hello(h: Hello): void {
    this.agent.hello(h);
  }

  changed(): void {
    this.reporter.kick();
  }

  refuseNode(): null {
    return null; // a node that has not registered yet may: its rules wait for it (pending)
  }

  /** Up, stale, down, by name. */
  private async nodeStates(): Promise<Map<string, NodeState>> {
    return new Map((await this.tables.nodes()).map((n) => [n.name, nodeState(n.lastSeenMs)]));
  }

  async states(noun: Noun, items: Stored[]): Promise<Map<string, NodeRule[]>> {
    const [rows, nodes, st] = await Promise.all([this.tables.status(noun, items.length > BY_ID ? null : items.map((r) => r.id)), this.nodeStates(), this.d.status()]);
    const reports = new Map<string, Map<string, StatusRow>>();
    for (const row of rows) {
      let m = reports.get(row.ruleId);
      if (!m) reports.set(row.ruleId, (m = new Map()));
      m.set(row.node, row);
    }
    const self = this.agent.node;
    const known = [...nodes.keys()];
    if (self !== null && !nodes.has(self)) known.push(self);
    return new Map(items.map((r) => [r.id, targets(r, known).map((n): NodeRule => {
      if (n === self) {
        const mine = localState(this.d.sync, st, noun, r);
        if (mine) return { node: n, ...mine };
      }
      return remote(r, n, reports.get(r.id)?.get(n), nodes.get(n));
    })]));
  }

  async settle(noun: Noun, put: Stored[], deleted: Stored[]): Promise<void> {
    const self = this.agent.node;
    try {
      const nodes = await this.nodeStates();
      const up = [...nodes].filter(([n, s]) => s === "up" && n !== self).map(([n]) => n);
      // Nodes that are not up are not waited for: their rules show pending, with why.
      const wants = [...put.map((r) => ({ r, gone: false })), ...deleted.map((r) => ({ r, gone: true }))]
        .flatMap(({ r, gone }) => targets(r, up).filter((n) => n !== self && nodes.get(n) === "up").map((node) => ({ id: r.id, node, revision: gone ? null : r.revision })));
      if (!wants.length) return;
      await new Promise<void>((done) => {
        this.waiting.push({ noun, wants, done, until: Date.now() + SETTLE_MS });
        void this.poll();
      });
    } catch {
      // the store went away meanwhile: the answer says what is known
    }
  }

  /** Writes waiting for other nodes' reports: of which kind, what each waits for, and until when. */
  private waiting: { noun: Noun; wants: { id: string; node: string; revision: number | null }[]; done: () => void; until: number }[] = [];
  private polling = false;

  /** One query per kind every 50 ms for every write that waits, however many there are. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      while (this.waiting.length) {
        const has = new Map<string, number>();
        let failed = false;
        for (const noun of new Set(this.waiting.map((w) => w.noun))) {
          const ids = [...new Set(this.waiting.filter((w) => w.noun === noun).flatMap((w) => w.wants.map((x) => x.id)))];
          const rows = await this.tables.status(noun, ids).catch(() => null);
          if (rows === null) failed = true;
          for (const x of rows ?? []) has.set(`${noun}\n${x.ruleId}\n${x.node}`, x.revision);
        }
        const now = Date.now();
        this.waiting = this.waiting.filter((w) => {
          const at = (x: { id: string; node: string }) => `${w.noun}\n${x.id}\n${x.node}`;
          const met = !failed && w.wants.every((x) => (x.revision === null ? !has.has(at(x)) : has.get(at(x)) === x.revision));
          if (met || now >= w.until) w.done();
          return !met && now < w.until;
        });
        if (this.waiting.length) await Bun.sleep(50);
      }
    } finally {
      this.polling = false;
    }
  }

  async nodes(): Promise<NodeView[]> {
    const [rows, rules, links] = await Promise.all([this.tables.nodes(), this.tables.counts("rule"), this.tables.counts("link")]);
    const self = this.agent.node;
    const count = (name: string, counts: Awaited<ReturnType<FleetTables["counts"]>>) => {
      const c = zeroCounts();
      for (const x of counts.reported) if (x.node === name && x.state in c) c[x.state as keyof typeof c] += x.n;
      c.pending = counts.pending.find((p) => p.node === name)?.n ?? 0;
      return c;
    };
    return rows.map((n) => ({ name: n.name, state: nodeState(n.lastSeenMs), self: n.name === self, version: n.version, startedAt: n.startedAt, heartbeatAt: n.heartbeatAt,
      lastSeenMs: Math.max(0, Math.round(n.lastSeenMs)), interfaces: n.interfaces, rules: count(n.name, rules), links: count(n.name, links) }));
  }

  async forget(name: string): Promise<"forgotten" | "not down" | "unknown"> {
    const n = (await this.tables.nodes()).find((x) => x.name === name);
    if (!n) return "unknown";
    if (nodeState(n.lastSeenMs) !== "down") return "not down";
    await this.tables.forget(name);
    return "forgotten";
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** A rule or link on another node, from that node's report. */
function remote(r: Stored, n: string, row: StatusRow | undefined, state: NodeState | undefined): NodeRule {
  const away = state === undefined ? `node ${n} has not registered` : state !== "up" ? `node ${n} is ${state}` : null;
  if (row && row.revision === r.revision) {
    const reason = [row.reason, away && `${away}: its last report`].filter(Boolean).join("; ");
    return { node: n, state: row.state as NodeRule["state"], revision: row.revision, ...(reason ? { reason } : {}), updatedAt: row.updatedAt };
  }
  const reason = away ?? (row ? `runs revision ${row.revision}` : undefined);
  return { node: n, state: "pending", ...(row ? { revision: row.revision, updatedAt: row.updatedAt } : {}), ...(reason ? { reason } : {}) };
}
