// Embedded SQLite through bun:sqlite. Writes run in BEGIN IMMEDIATE … COMMIT under an in-process
// lock (drizzle's bun-sqlite transactions take only synchronous callbacks, and the queries here
// are awaited). The lock is shared by every store open on the same file in this process: bun:sqlite
// waits for SQLite's file lock synchronously (busy_timeout), so a second connection in the same
// process would block the thread while the first waits on a microtask. Another process holding the
// write lock is covered by busy_timeout: a transaction here never waits for I/O between statements.
import { Database } from "bun:sqlite";
import { mkdirSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { asc, eq, inArray, or, sql } from "drizzle-orm";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { migrate } from "drizzle-orm/bun-sqlite/migrator";
import { CHUNK, findCause, inputKeyPrefix, type Backend, type Queries, type TableQueries } from "./backend.ts";
import { StoreUnavailableError } from "./errors.ts";
import { links, rules, storeRevision } from "./schema.sqlite.ts";

/** SQLite's "database or disk is full" and I/O errors, as an error that names the file and why. */
function translate(e: unknown, file: string): unknown {
  const codeOf = (x: any): string | undefined => (typeof x?.code === "string" ? x.code : x?.cause ? codeOf(x.cause) : undefined);
  const code = codeOf(e);
  if (code === "SQLITE_FULL") return new StoreUnavailableError(`the rule store ${file} cannot be written: no space left on device (ENOSPC)`);
  if (code?.startsWith("SQLITE_IOERR") || code === "SQLITE_READONLY") return new StoreUnavailableError(`the rule store ${file} cannot be written: ${code}`);
  return e;
}

/** The queries both tables answer alike. */
function table<T extends typeof rules | typeof links>(db: BunSQLiteDatabase, t: T): TableQueries<T["$inferSelect"]> {
  // drizzle's builders do not take a union of tables; every member has these columns.
  const x = t as typeof rules;
  type R = T["$inferSelect"];
  return {
    list: async () => db.select().from(x).orderBy(asc(x.createdAt), asc(x.id)).all() as R[],
    get: async (id) => db.select().from(x).where(eq(x.id, id)).get() as R | undefined,
    getMany: async (ids) => {
      const out: R[] = [];
      for (let i = 0; i < ids.length; i += CHUNK) out.push(...(db.select().from(x).where(inArray(x.id, ids.slice(i, i + CHUNK))).all() as R[]));
      return out;
    },
    revisions: async (node) =>
      new Map(db.select({ id: x.id, revision: x.revision }).from(x).where(inArray(x.node, ["*", node])).all().map((r) => [r.id, r.revision])),
    byName: async (name) => db.select().from(x).where(eq(x.name, name)).get() as R | undefined,
    insert: async (row) => void db.insert(x).values(row as typeof rules.$inferInsert).run(),
    update: async (id, row) => void db.update(x).set(row as typeof rules.$inferInsert).where(eq(x.id, id)).run(),
    remove: async (id) => db.delete(x).where(eq(x.id, id)).returning({ id: x.id }).all().length > 0,
  };
}

class Lock {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.tail.then(fn);
    this.tail = r.catch(() => {});
    return r;
  }
}

/** One per database file; kept for the life of the process. */
const locks = new Map<string, Lock>();

export function openSqlite(stateDir: string, migrationsFolder: string): Backend {
  mkdirSync(stateDir, { recursive: true });
  const file = join(realpathSync(stateDir), "mcrelay.db");
  let client: Database;
  try {
    client = new Database(file, { create: true, strict: true });
    client.exec("PRAGMA journal_mode = WAL");
  } catch (e) {
    throw translate(e, file);
  }
  client.exec("PRAGMA busy_timeout = 5000");
  client.exec("PRAGMA synchronous = NORMAL");
  const db = drizzle(client);
  try {
    migrate(db, { migrationsFolder });
  } catch (e) {
    client.close();
    throw translate(e, file);
  }

  const q: Queries = {
    rules: {
      ...table(db, rules),
      clashes: async (id, name, inputKey) =>
        db.select().from(rules).where(or(eq(rules.id, id), name === undefined ? undefined : eq(rules.name, name), eq(rules.inputKey, inputKey))).all(),
      inputsOn: async (ifnames) =>
        db.select().from(rules).where(or(...ifnames.map((n) => sql`substr(${rules.inputKey}, 1, ${inputKeyPrefix(n).length}) = ${inputKeyPrefix(n)}`))).all(),
    },
    links: {
      ...table(db, links),
      clashes: async (c) =>
        db.select().from(links).where(or(c.id === undefined ? undefined : eq(links.id, c.id), c.name === undefined ? undefined : eq(links.name, c.name),
          inArray(links.a, c.ifnames), inArray(links.b, c.ifnames))).all(),
    },
    bump: async () =>
      db.insert(storeRevision).values({ id: 1, value: 1 })
        .onConflictDoUpdate({ target: storeRevision.id, set: { value: sql`${storeRevision.value} + 1` } })
        .returning({ value: storeRevision.value }).get()!.value,
  };

  let lock = locks.get(file);
  if (!lock) locks.set(file, (lock = new Lock()));
  let closed = false;
  const open = () => {
    if (closed) throw new Error("rule store is closed");
  };
  return {
    kind: "sqlite",
    read: (fn) => lock.run(async () => (open(), fn(q))),
    write: (fn) =>
      lock.run(async () => {
        open();
        try {
          db.run(sql`BEGIN IMMEDIATE`);
          const r = await fn(q);
          db.run(sql`COMMIT`);
          return r;
        } catch (e) {
          try {
            db.run(sql`ROLLBACK`);
          } catch {
            // SQLite already rolled back (SQLITE_FULL does): the first error is the one to tell
          }
          throw translate(e, file);
        }
      }),
    isUniqueViolation: (e) =>
      findCause(e, (c) => typeof c.code === "string" && /^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/.test(c.code)),
    close: () =>
      lock.run(async () => {
        if (closed) return;
        closed = true;
        client.close();
      }),
  };
}
