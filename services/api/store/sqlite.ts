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
import { drizzle } from "drizzle-orm/bun-sqlite";
import { migrate } from "drizzle-orm/bun-sqlite/migrator";
import { findCause, type Backend, type Queries, type Row } from "./backend.ts";
import { StoreUnavailableError } from "./errors.ts";
import { rules, storeRevision } from "./schema.sqlite.ts";

/** Ids per query, under SQLite's limit on parameters. */
const CHUNK = 5000;

/** SQLite's "database or disk is full" and I/O errors, as an error that names the file and why. */
function translate(e: unknown, file: string): unknown {
  const codeOf = (x: any): string | undefined => (typeof x?.code === "string" ? x.code : x?.cause ? codeOf(x.cause) : undefined);
  const code = codeOf(e);
  if (code === "SQLITE_FULL") return new StoreUnavailableError(`the rule store ${file} cannot be written: no space left on device (ENOSPC)`);
  if (code?.startsWith("SQLITE_IOERR") || code === "SQLITE_READONLY") return new StoreUnavailableError(`the rule store ${file} cannot be written: ${code}`);
  return e;
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
    list: async () => db.select().from(rules).orderBy(asc(rules.createdAt), asc(rules.id)).all(),
    get: async (id) => db.select().from(rules).where(eq(rules.id, id)).get(),
    getMany: async (ids) => {
      const out = [];
      for (let i = 0; i < ids.length; i += CHUNK) out.push(...db.select().from(rules).where(inArray(rules.id, ids.slice(i, i + CHUNK))).all());
      return out;
    },
    revisions: async (node) =>
      new Map(db.select({ id: rules.id, revision: rules.revision }).from(rules).where(inArray(rules.node, ["*", node])).all().map((r) => [r.id, r.revision])),
    bump: async () =>
      db.insert(storeRevision).values({ id: 1, value: 1 })
        .onConflictDoUpdate({ target: storeRevision.id, set: { value: sql`${storeRevision.value} + 1` } })
        .returning({ value: storeRevision.value }).get()!.value,
    byName: async (name) => db.select().from(rules).where(eq(rules.name, name)).get(),
    clashes: async (id, name, inputKey) =>
      db
        .select()
        .from(rules)
        .where(or(eq(rules.id, id), name === undefined ? undefined : eq(rules.name, name), eq(rules.inputKey, inputKey)))
        .all(),
    insert: async (row) => void db.insert(rules).values(row).run(),
    update: async (id, row) => void db.update(rules).set(row).where(eq(rules.id, id)).run(),
    remove: async (id) => db.delete(rules).where(eq(rules.id, id)).returning({ id: rules.id }).all().length > 0,
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
