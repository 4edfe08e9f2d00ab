// PostgreSQL through a node-postgres pool. Migrations run under an advisory lock, so several
// processes may start at once; writers take turns on the store_revision row (index.ts). A server
// that cannot be reached is a StoreUnreachableError (503), one that refuses writes (disk full,
// read-only) a StoreUnavailableError (507); both name it.
import { asc, eq, inArray, or, sql } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { parse as parsePg } from "pg-connection-string";
import { CHUNK, findCause, inputKeyPrefix, type Backend, type BaseRow, type LinkRow, type Queries, type Row, type TableQueries } from "./backend.ts";
import { StoreUnavailableError, StoreUnreachableError } from "./errors.ts";
import { links, rules, storeRevision } from "./schema.pg.ts";

/** pg_advisory_lock key for migrations ("mcrelay" in ASCII). */
const MIGRATION_LOCK = 0x6d6372656c6179;

type Db = Pick<NodePgDatabase, "select" | "insert" | "update" | "delete">;
type DbRow<R> = Omit<R, "createdAt" | "updatedAt"> & { createdAt: Date; updatedAt: Date };

/** Rows as the database gives them (dates as Date) -> rows with ISO dates. */
const fromDb = <R extends BaseRow<unknown>>(rs: unknown[]): R[] =>
  (rs as DbRow<R>[]).map((r) => ({ ...r, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString() }) as unknown as R);
const toDb = <R extends BaseRow<unknown>>(r: R): DbRow<R> => ({ ...r, createdAt: new Date(r.createdAt), updatedAt: new Date(r.updatedAt) });

/** The queries both tables answer alike. */
function table<R extends BaseRow<unknown>>(db: Db, t: typeof rules | typeof links): TableQueries<R> {
  // drizzle's builders do not take a union of tables; every member has these columns.
  const x = t as typeof rules;
  const rows = fromDb<R>;
  return {
    list: async () => rows(await db.select().from(x).orderBy(asc(x.createdAt), asc(x.id))),
    get: async (id) => rows(await db.select().from(x).where(eq(x.id, id)))[0],
    getMany: async (ids) => {
      const out: R[] = [];
      for (let i = 0; i < ids.length; i += CHUNK) out.push(...rows(await db.select().from(x).where(inArray(x.id, ids.slice(i, i + CHUNK)))));
      return out;
    },
    revisions: async (node) =>
      new Map((await db.select({ id: x.id, revision: x.revision }).from(x).where(inArray(x.node, ["*", node]))).map((r) => [r.id, r.revision])),
    byName: async (name) => rows(await db.select().from(x).where(eq(x.name, name)))[0],
    insert: async (row) => void (await db.insert(x).values(toDb(row) as unknown as typeof rules.$inferInsert)),
    update: async (id, row) => void (await db.update(x).set(toDb(row) as unknown as typeof rules.$inferInsert).where(eq(x.id, id))),
    remove: async (id) => (await db.delete(x).where(eq(x.id, id)).returning({ id: x.id })).length > 0,
  };
}

function queries(db: Db): Queries {
  return {
    rules: {
      ...table<Row>(db, rules),
      clashes: async (id, name, inputKey) =>
        fromDb<Row>(await db.select().from(rules).where(or(eq(rules.id, id), name === undefined ? undefined : eq(rules.name, name), eq(rules.inputKey, inputKey)))),
      inputsOn: async (ifnames) =>
        fromDb<Row>(await db.select().from(rules).where(or(...ifnames.map((n) => sql`substr(${rules.inputKey}, 1, ${inputKeyPrefix(n).length}::int) = ${inputKeyPrefix(n)}`)))),
    },
    links: {
      ...table<LinkRow>(db, links),
      clashes: async (c) =>
        fromDb<LinkRow>(await db.select().from(links).where(or(c.id === undefined ? undefined : eq(links.id, c.id), c.name === undefined ? undefined : eq(links.name, c.name),
          inArray(links.a, c.ifnames), inArray(links.b, c.ifnames)))),
    },
    bump: async () => {
      const [r] = await db.insert(storeRevision).values({ id: 1, value: 1 })
        .onConflictDoUpdate({ target: storeRevision.id, set: { value: sql`${storeRevision.value} + 1` } })
        .returning({ value: storeRevision.value });
      return r!.value;
    },
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
