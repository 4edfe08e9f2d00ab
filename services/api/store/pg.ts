// PostgreSQL through a node-postgres pool. Migrations run under an advisory lock, so several
// processes may start at once. A server that cannot be reached is a StoreUnreachableError (503),
// one that refuses writes (disk full, read-only) a StoreUnavailableError (507); both name it.
import { asc, eq, inArray, or, sql } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { parse as parsePg } from "pg-connection-string";
import { findCause, type Backend, type Queries, type Row } from "./backend.ts";
import { StoreUnavailableError, StoreUnreachableError } from "./errors.ts";
import { rules, storeRevision } from "./schema.pg.ts";

/** pg_advisory_lock key for migrations ("mcrelay" in ASCII). */
const MIGRATION_LOCK = 0x6d6372656c6179;
/** Ids per query, well under the protocol's 65,535 parameters. */
const CHUNK = 5000;

type Db = Pick<NodePgDatabase, "select" | "insert" | "update" | "delete">;
type DbRow = typeof rules.$inferSelect;

const fromDb = (r: DbRow): Row => ({ ...r, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString() });
const toDb = (r: Row): DbRow => ({ ...r, createdAt: new Date(r.createdAt), updatedAt: new Date(r.updatedAt) });

function queries(db: Db): Queries {
  return {
    list: async () => (await db.select().from(rules).orderBy(asc(rules.createdAt), asc(rules.id))).map(fromDb),
    get: async (id) => (await db.select().from(rules).where(eq(rules.id, id))).map(fromDb)[0],
    getMany: async (ids) => {
      const out: Row[] = [];
      for (let i = 0; i < ids.length; i += CHUNK) out.push(...(await db.select().from(rules).where(inArray(rules.id, ids.slice(i, i + CHUNK)))).map(fromDb));
      return out;
    },
    revisions: async (node) =>
      new Map((await db.select({ id: rules.id, revision: rules.revision }).from(rules).where(inArray(rules.node, ["*", node]))).map((r) => [r.id, r.revision])),
    bump: async () => {
      const [r] = await db.insert(storeRevision).values({ id: 1, value: 1 })
        .onConflictDoUpdate({ target: storeRevision.id, set: { value: sql`${storeRevision.value} + 1` } })
        .returning({ value: storeRevision.value });
      return r!.value;
    },
    byName: async (name) => (await db.select().from(rules).where(eq(rules.name, name))).map(fromDb)[0],
    clashes: async (id, name, inputKey) =>
      (
        await db
          .select()
          .from(rules)
          .where(or(eq(rules.id, id), name === undefined ? undefined : eq(rules.name, name), eq(rules.inputKey, inputKey)))
      ).map(fromDb),
    insert: async (row) => void (await db.insert(rules).values(toDb(row))),
    update: async (id, row) => void (await db.update(rules).set(toDb(row)).where(eq(rules.id, id))),
    remove: async (id) => (await db.delete(rules).where(eq(rules.id, id)).returning({ id: rules.id })).length > 0,
  };
}

/** "PostgreSQL mcrelay on /run/postgresql", "PostgreSQL mcrelay at db1:5432": which server, no password. */
export function describeServer(databaseUrl: string): string {
  const c = parsePg(databaseUrl);
  const where = c.host?.startsWith("/") ? `on ${c.host}` : `at ${c.host ?? "localhost"}:${c.port ?? 5432}`;
  return `PostgreSQL ${c.database ?? ""} ${where}`.replace(/\s+/g, " ");
}

/** Errors that mean the server is not there (or not answering), rather than a refused query. */
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ENOENT", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "EAI_AGAIN", "ENOTFOUND",
  "57P01", "57P02", "57P03", "53300"]);
export function isUnreachable(e: unknown): boolean {
  return findCause(e, (c) => UNREACHABLE_CODES.has(c.code) || /^08/.test(String(c.code ?? "")) ||
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|not queryable/i.test(String(c.message ?? "")));
}

/** The driver's error, as the store's: a server that is not there, or one that refuses writes. */
function translate(e: unknown, server: string): unknown {
  const message = (x: unknown) => {
    let m = "";
    findCause(x, (c) => ((m = c.message || c.code || ""), !(c.cause)));
    return m;
  };
  if (isUnreachable(e)) return new StoreUnreachableError(`the rule store (${server}) cannot be reached: ${message(e)}`);
  if (findCause(e, (c) => c.code === "53100")) return new StoreUnavailableError(`the rule store (${server}) cannot be written: its disk is full`);
  if (findCause(e, (c) => c.code === "25006")) return new StoreUnavailableError(`the rule store (${server}) cannot be written: read-only`);
  return e;
}

export interface PgBackend extends Backend {
  readonly kind: "postgres";
  /** for the fleet's tables (services/api/fleet/), on the same pool */
  readonly db: NodePgDatabase;
  readonly url: string;
  /** which server, for messages */
  readonly server: string;
  /** the driver's error as the store's (see translate) */
  translate(e: unknown): unknown;
}

export async function openPostgres(databaseUrl: string, migrationsFolder: string): Promise<PgBackend> {
  // A server that went away must not hold requests: connecting gives up after 2 s, a query after
  // 10 s, and TCP keepalives notice a peer that vanished without a word.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, connectionTimeoutMillis: 2000, query_timeout: 10_000, keepAlive: true });
  // An idle client that loses its connection is dropped by the pool; the next query reconnects.
  // Without a listener the 'error' event would crash the process.
  pool.on("error", () => {});
  try {
    const client = await pool.connect();
    try {
      await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
      try {
        await migrate(drizzle(client), { migrationsFolder });
      } finally {
        await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]);
      }
    } finally {
      client.release();
    }
  } catch (e) {
    await pool.end();
    throw e;
  }
  const db = drizzle(pool);
  const q = queries(db);
  const server = describeServer(databaseUrl);
  const tr = <T>(p: Promise<T>): Promise<T> => p.catch((e) => Promise.reject(translate(e, server)));
  let closed: Promise<void> | undefined;
  return {
    kind: "postgres",
    db, url: databaseUrl, server,
    translate: (e) => translate(e, server),
    read: (fn) => tr(fn(q)),
    write: (fn) => tr(db.transaction((tx) => fn(queries(tx)))),
    isUniqueViolation: (e) => findCause(e, (c) => c.code === "23505"),
    close: () => (closed ??= pool.end()),
  };
}
