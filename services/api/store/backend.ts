// What index.ts needs from a database: a few queries, and a way to run them in one transaction.
import type { Rule } from "../../../rules/schema.ts";

/** One row of the rules table, dates as ISO strings. */
export interface Row {
  id: string;
  name: string | null;
  inputKey: string;
  /** a node's name, or "*" */
  node: string;
  revision: number;
  body: Rule & { id: string };
  createdAt: string;
  updatedAt: string;
}

export interface Queries {
  /** Ordered by createdAt, then id. */
  list(): Promise<Row[]>;
  get(id: string): Promise<Row | undefined>;
  getMany(ids: string[]): Promise<Row[]>;
  /** id → revision of the rules the node runs (its own and those for every node) */
  revisions(node: string): Promise<Map<string, number>>;
  /** Bumps the store's revision and returns it: the first thing every write transaction does. */
  bump(): Promise<number>;
  byName(name: string): Promise<Row | undefined>;
  /** Rows with this id, or this name (when given), or this input key (on any node). */
  clashes(id: string, name: string | undefined, inputKey: string): Promise<Row[]>;
  insert(row: Row): Promise<void>;
  /** Overwrites the row that has id `id` (its id may change). */
  update(id: string, row: Row): Promise<void>;
  remove(id: string): Promise<boolean>;
}

export interface Backend {
  readonly kind: "sqlite" | "postgres";
  read<T>(fn: (q: Queries) => Promise<T>): Promise<T>;
  /** Runs fn in one transaction: committed if fn resolves, rolled back if it throws. */
  write<T>(fn: (q: Queries) => Promise<T>): Promise<T>;
  /** A unique or primary-key violation reported by the database. */
  isUniqueViolation(e: unknown): boolean;
  close(): Promise<void>;
}

/** Looks through error.cause chains (drizzle wraps driver errors in DrizzleQueryError). */
export function findCause(e: unknown, test: (e: any) => boolean): boolean {
  for (let c: any = e, depth = 0; c && depth < 8; c = c.cause, depth++) if (test(c)) return true;
  return false;
}
