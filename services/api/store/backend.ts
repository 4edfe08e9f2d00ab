// What the stores need from a database: a few queries per table, and a way to run them in one
// transaction.
import type { Link } from "../../../rules/link.ts";
import type { Rule } from "../../../rules/schema.ts";

/** What every table's row has: its id, its name if it has one, the node that runs it, the
 *  revision it was last written at, the validated body, ISO dates. */
export interface BaseRow<B> {
  id: string;
  name: string | null;
  /** a node's name, or "*" */
  node: string;
  revision: number;
  body: B & { id: string };
  createdAt: string;
  updatedAt: string;
}

/** One row of the rules table. */
export interface Row extends BaseRow<Rule> {
  inputKey: string;
}

/** One row of the links table. */
export interface LinkRow extends BaseRow<Link> {
  a: string;
  b: string;
}

/** The queries every table answers. */
export interface TableQueries<R> {
  /** Ordered by createdAt, then id. */
  list(): Promise<R[]>;
  get(id: string): Promise<R | undefined>;
  getMany(ids: string[]): Promise<R[]>;
  /** id → revision of the rows the node runs (its own and those for every node) */
  revisions(node: string): Promise<Map<string, number>>;
  byName(name: string): Promise<R | undefined>;
  insert(row: R): Promise<void>;
  /** Overwrites the row that has id `id` (its id may change). */
  update(id: string, row: R): Promise<void>;
  remove(id: string): Promise<boolean>;
}

export interface RuleQueries extends TableQueries<Row> {
  /** Rows with this id, or this name (when given), or this input key (on any node). */
  clashes(id: string, name: string | undefined, inputKey: string): Promise<Row[]>;
  /** Rules whose input is on one of these interfaces (on any node). */
  inputsOn(ifnames: string[]): Promise<Row[]>;
}

export interface LinkQueries extends TableQueries<LinkRow> {
  /** Links with this id or this name (each when given), or with an end on one of these interfaces (on any node). */
  clashes(c: { id?: string; name?: string; ifnames: string[] }): Promise<LinkRow[]>;
}

export interface Queries {
  rules: RuleQueries;
  links: LinkQueries;
  /** Bumps the store's revision and returns it: the first thing every write transaction does. */
  bump(): Promise<number>;
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

/** What inputKey (rules/load.ts) begins with for a rule whose input is on `ifname`: the name and a
 *  space (an interface name holds none), so a prefix compare finds exactly that interface's rules. */
export const inputKeyPrefix = (ifname: string) => `${ifname} `;

/** Ids per query, under SQLite's and PostgreSQL's limits on parameters. */
export const CHUNK = 5000;
