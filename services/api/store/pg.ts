// PostgreSQL through a node-postgres pool. Migrations run under an advisory lock, so several
// processes may start at once.
import { asc, eq, inArray, or, sql } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { findCause, inputKeyPrefix, type Backend, type BaseRow, type LinkRow, type Queries, type Row, type TableQueries } from "./backend.ts";
import { links, rules } from "./schema.pg.ts";

/** pg_advisory_lock key for migrations ("mcrelay" in ASCII). */
const MIGRATION_LOCK = 0x6d6372656c6179;
/** pg_advisory_xact_lock key every write transaction takes ("mcrw"): a write checks one table
 *  against another (a link's interfaces against the rules' inputs), which no constraint covers,
 *  so writers from other connections must not run between its check and its commit. */
const WRITE_LOCK = 0x6d637277;

type Db = Pick<NodePgDatabase, "select" | "insert" | "update" | "delete" | "execute">;
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
  };
}

export async function openPostgres(databaseUrl: string, migrationsFolder: string): Promise<Backend> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
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
  let closed: Promise<void> | undefined;
  return {
    kind: "postgres",
    read: (fn) => fn(q),
    write: (fn) => db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${WRITE_LOCK})`);
      return fn(queries(tx));
    }),
    isUniqueViolation: (e) => findCause(e, (c) => c.code === "23505"),
    close: () => (closed ??= pool.end()),
  };
}
