// PostgreSQL through a node-postgres pool. Migrations run under an advisory lock, so several
// processes may start at once.
import { asc, eq, or } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { findCause, type Backend, type Queries, type Row } from "./backend.ts";
import { rules } from "./schema.pg.ts";

/** pg_advisory_lock key for migrations ("mcrelay" in ASCII). */
const MIGRATION_LOCK = 0x6d6372656c6179;

type Db = Pick<NodePgDatabase, "select" | "insert" | "update" | "delete">;
type DbRow = typeof rules.$inferSelect;

const fromDb = (r: DbRow): Row => ({ ...r, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString() });
const toDb = (r: Row): DbRow => ({ ...r, createdAt: new Date(r.createdAt), updatedAt: new Date(r.updatedAt) });

function queries(db: Db): Queries {
  return {
    list: async () => (await db.select().from(rules).orderBy(asc(rules.createdAt), asc(rules.id))).map(fromDb),
    get: async (id) => (await db.select().from(rules).where(eq(rules.id, id))).map(fromDb)[0],
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
    write: (fn) => db.transaction((tx) => fn(queries(tx))),
    isUniqueViolation: (e) => findCause(e, (c) => c.code === "23505"),
    close: () => (closed ??= pool.end()),
  };
}
