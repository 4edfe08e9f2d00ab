// A backend in memory, for tests that want the store's own behaviour (its ids, defaults and
// clashes: collection.ts, kinds.ts) without a database, and a disk that can be made full.
import type { Backend, BaseRow, Queries, TableQueries } from "./backend.ts";
import { inputKeyPrefix } from "./backend.ts";
import { StoreUnavailableError, StoreUnreachableError } from "./errors.ts";

const byTime = (x: BaseRow<unknown>, y: BaseRow<unknown>) =>
  x.createdAt < y.createdAt ? -1 : x.createdAt > y.createdAt ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0;

function table<R extends BaseRow<unknown>>(rows: Map<string, R>): TableQueries<R> {
  return {
    list: async () => [...rows.values()].sort(byTime),
    get: async (id) => rows.get(id),
    getMany: async (ids) => ids.flatMap((id) => (rows.has(id) ? [rows.get(id)!] : [])),
    revisions: async (node) => new Map([...rows.values()].filter((r) => r.node === "*" || r.node === node).map((r) => [r.id, r.revision])),
    byName: async (name) => [...rows.values()].find((r) => r.name === name),
    insert: async (row) => void rows.set(row.id, row),
    update: async (id, row) => {
      rows.delete(id);
      rows.set(row.id, row);
    },
    remove: async (id) => rows.delete(id),
  };
}

export interface MemoryBackend extends Backend {
  /** a full disk: every write fails as the SQLite store's does */
  full: boolean;
  /** a database that cannot be reached: every read and write fails as the PostgreSQL store's does */
  away: boolean;
}

const AWAY = "the rule store (PostgreSQL mcrelay at db:5432) cannot be reached: connect ECONNREFUSED";

export function memoryBackend(): MemoryBackend {
  let rules = new Map<string, Parameters<Queries["rules"]["insert"]>[0]>();
  let links = new Map<string, Parameters<Queries["links"]["insert"]>[0]>();
  let revision = 0;
  const queries = (): Queries => ({
    rules: {
      ...table(rules),
      clashes: async (id, name, inputKey) => [...rules.values()].filter((r) => r.id === id || (name !== undefined && r.name === name) || r.inputKey === inputKey),
      inputsOn: async (ifnames) => [...rules.values()].filter((r) => ifnames.some((n) => r.inputKey.startsWith(inputKeyPrefix(n)))),
    },
    links: {
      ...table(links),
      clashes: async (c) => [...links.values()].filter((l) => l.id === c.id || (c.name !== undefined && l.name === c.name) || c.ifnames.includes(l.a) || c.ifnames.includes(l.b)),
    },
    bump: async () => ++revision,
  });
  let tail: Promise<unknown> = Promise.resolve();
  const b: MemoryBackend = {
    kind: "sqlite",
    full: false,
    away: false,
    read: async (fn) => {
      if (b.away) throw new StoreUnreachableError(AWAY);
      return fn(queries());
    },
    write: (fn) => {
      const run = tail.then(async () => {
        if (b.away) throw new StoreUnreachableError(AWAY);
        if (b.full) throw new StoreUnavailableError("the rule store /memory/mcrelay.db cannot be written: no space left on device (ENOSPC)");
        const before = [new Map(rules), new Map(links), revision] as const;
        try {
          return await fn(queries());
        } catch (e) {
          [rules, links, revision] = before; // rolled back
          throw e;
        }
      });
      tail = run.catch(() => {});
      return run;
    },
    isUniqueViolation: () => false,
    close: async () => {},
  };
  return b;
}
