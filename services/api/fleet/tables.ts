// The fleet's queries on PostgreSQL (tables in store/schema.pg.ts): heartbeats, the nodes, and
// what each node reports of each rule and link (rule_status, by kind). Times are the database server's (now()), so hosts' clocks
// need not agree; every error comes out as the store's (unreachable: 503).
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { NodeInterface } from "../../protocol/fleet.ts";
import type { Noun } from "../store/collection.ts";
import type { PgBackend } from "../store/pg.ts";
import { links, nodes, rules, ruleStatus } from "../store/schema.pg.ts";
import { STALE_MS } from "../../protocol/fleet.ts";

/** A node's row, and how long ago it beat. */
export interface NodeRow {
  name: string;
  instance: string;
  version: string;
  startedAt: string;
  heartbeatAt: string;
  lastSeenMs: number;
  interfaces: NodeInterface[];
}

/** One node's report on one rule or link (kind). */
export interface StatusRow {
  kind: Noun;
  ruleId: string;
  node: string;
  revision: number;
  state: string;
  reason: string | null;
  updatedAt: string;
}

/** Rows per statement: under the protocol's 65,535 parameters at 6 per row. */
const BATCH = 1000;

/** Each kind's table: what rule_status.rule_id is an id of. */
const TABLES = { rule: rules, link: links } as const;

export class FleetTables {
  constructor(private readonly pg: PgBackend) {}

  private async run<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      throw this.pg.translate(e);
    }
  }

  /**
   * Registers or beats. Refused (false) while another instance under the same name beat within
   * STALE_MS: two relays given one name must not take turns at being it.
   */
  async beat(n: { name: string; instance: string; version: string; startedAt: string; interfaces: NodeInterface[] }): Promise<boolean> {
    const db = this.pg.db;
    const r = await this.run(db.insert(nodes)
      .values({ name: n.name, instance: n.instance, version: n.version, startedAt: new Date(n.startedAt), heartbeatAt: sql`now()`, interfaces: n.interfaces })
      .onConflictDoUpdate({
        target: nodes.name,
        set: { instance: n.instance, version: n.version, startedAt: new Date(n.startedAt), heartbeatAt: sql`now()`, interfaces: n.interfaces },
        setWhere: sql`${nodes.instance} = ${n.instance} OR ${nodes.heartbeatAt} < now() - make_interval(secs => ${STALE_MS / 1000})`,
      })
      .returning({ name: nodes.name }));
    return r.length > 0;
  }

  async nodes(): Promise<NodeRow[]> {
    const db = this.pg.db;
    const rows = await this.run(db.select({
      name: nodes.name, instance: nodes.instance, version: nodes.version, startedAt: nodes.startedAt, heartbeatAt: nodes.heartbeatAt, interfaces: nodes.interfaces,
      lastSeenMs: sql<number>`(extract(epoch from now() - ${nodes.heartbeatAt}) * 1000)::float8`,
    }).from(nodes).orderBy(asc(nodes.name)));
    return rows.map((r) => ({ ...r, startedAt: r.startedAt.toISOString(), heartbeatAt: r.heartbeatAt.toISOString(), lastSeenMs: Number(r.lastSeenMs) }));
  }

  /** Per node, of one kind: how many of its reports are about current revisions, by state; and
   *  how many it runs have no report at their current revision (pending). */
  async counts(kind: Noun): Promise<{ reported: { node: string; state: string; n: number }[]; pending: { node: string; n: number }[] }> {
    const db = this.pg.db;
    const t = TABLES[kind] as typeof rules;
    const reported = await this.run(db.select({ node: ruleStatus.node, state: ruleStatus.state, n: sql<number>`count(*)::int` })
      .from(ruleStatus).innerJoin(t, and(eq(ruleStatus.kind, kind), eq(t.id, ruleStatus.ruleId), eq(t.revision, ruleStatus.revision)))
      .groupBy(ruleStatus.node, ruleStatus.state));
    const pending = await this.run(db.execute<{ node: string; n: number }>(sql`
      SELECT n.name AS node, count(r.id)::int AS n FROM ${nodes} n
        JOIN ${t} r ON r.node IN ('*', n.name)
        LEFT JOIN ${ruleStatus} s ON s.kind = ${kind} AND s.rule_id = r.id AND s.node = n.name AND s.revision = r.revision
      WHERE s.rule_id IS NULL GROUP BY n.name`));
    return { reported, pending: pending.rows };
  }

  /** What every node reported of these rules or links (every one of the kind when ids is null). */
  async status(kind: Noun, ids: string[] | null): Promise<StatusRow[]> {
    const db = this.pg.db;
    if (ids !== null && !ids.length) return [];
    const rows = await this.run(db.select().from(ruleStatus).where(and(eq(ruleStatus.kind, kind), ids === null ? undefined : inArray(ruleStatus.ruleId, ids))));
    return rows.map((r) => ({ ...r, kind: r.kind as Noun, updatedAt: r.updatedAt.toISOString() }));
  }

  /** A node's reports: these rows put, these removed; `whole`: every other row of the node goes. */
  async report(node: string, put: Omit<StatusRow, "node" | "updatedAt">[], remove: { kind: Noun; ruleId: string }[], whole: boolean): Promise<void> {
    const db = this.pg.db;
    await this.run(db.transaction(async (tx) => {
      if (whole) await tx.delete(ruleStatus).where(eq(ruleStatus.node, node));
      for (let i = 0; i < put.length; i += BATCH) {
        await tx.insert(ruleStatus).values(put.slice(i, i + BATCH).map((r) => ({ ...r, node, updatedAt: sql`now()` })))
          .onConflictDoUpdate({
            target: [ruleStatus.kind, ruleStatus.ruleId, ruleStatus.node],
            set: { revision: sql`excluded.revision`, state: sql`excluded.state`, reason: sql`excluded.reason`, updatedAt: sql`excluded.updated_at` },
          });
      }
      for (const kind of ["rule", "link"] as const) {
        const ids = remove.filter((r) => r.kind === kind).map((r) => r.ruleId);
        for (let i = 0; i < ids.length; i += BATCH) {
          await tx.delete(ruleStatus).where(and(eq(ruleStatus.node, node), eq(ruleStatus.kind, kind), inArray(ruleStatus.ruleId, ids.slice(i, i + BATCH))));
        }
      }
    }));
  }

  /** Forgets a node and its reports. */
  async forget(name: string): Promise<void> {
    const db = this.pg.db;
    await this.run(db.transaction(async (tx) => {
      await tx.delete(ruleStatus).where(eq(ruleStatus.node, name));
      await tx.delete(nodes).where(eq(nodes.name, name));
    }));
  }
}
