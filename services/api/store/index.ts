// The store: rules and links kept in embedded SQLite (default) or PostgreSQL (DATABASE_URL),
// through drizzle-orm, with the same calling code for both. Migrations come from drizzle/
// (npm run db:generate).
import { join } from "node:path";
import type { Link } from "../../../rules/link.ts";
import type { Rule, RuleInput } from "../../../rules/schema.ts";
import type { StoredLink } from "../../protocol/links.ts";
import type { StoredRule } from "../../protocol/rules.ts";
import type { Backend, LinkRow, Queries, Row } from "./backend.ts";
import { Collection, type CollectionApi, type Noun } from "./collection.ts";
import { ConflictError } from "./errors.ts";
import { LINKS, RULES, type LinkInput } from "./kinds.ts";
import { openPostgres, type PgBackend } from "./pg.ts";
import { openSqlite } from "./sqlite.ts";

export { ConflictError, StoreUnavailableError, StoreUnreachableError } from "./errors.ts";
export type { LinkInput } from "./kinds.ts";
export type { Noun } from "./collection.ts";
export type { StoredRule } from "../../protocol/rules.ts";
export type { StoredLink } from "../../protocol/links.ts";

export type RuleCollection = CollectionApi<RuleInput, StoredRule>;
export type LinkStore = CollectionApi<LinkInput, StoredLink>;

/** The rules (its own methods, as before links, and `rules`) and the links (`links`), in one database. */
export interface RuleStore extends RuleCollection {
  readonly kind: "sqlite" | "postgres";
  /** The PostgreSQL server, for the fleet's own tables (services/api/fleet/); none with SQLite. */
  readonly postgres?: PgBackend;
  readonly rules: RuleCollection;
  readonly links: LinkStore;
  /** A rules file's rules and links, in one transaction: each is inserted, or updates the stored
   *  one with the same id, else the same name. The counts are of both; `updated` counts only
   *  those that changed. */
  upsertMany(rules: RuleInput[], links?: LinkInput[]): Promise<{ inserted: number; updated: number }>;
  close(): Promise<void>;
}

const MIGRATIONS = join(import.meta.dir, "../../../drizzle");

export async function openStore(opts: { databaseUrl?: string; stateDir: string }): Promise<RuleStore> {
  const url = opts.databaseUrl;
  if (url && /^postgres(ql)?:\/\//.test(url)) return storeOn(await openPostgres(url, join(MIGRATIONS, "pg")));
  if (url) throw new Error(`DATABASE_URL must start with postgres:// or postgresql:// (got "${url.split(":")[0]}:…")`);
  return storeOn(openSqlite(opts.stateDir, join(MIGRATIONS, "sqlite")));
}

/** The store over any backend (tests use one in memory: memory.ts). */
export function storeOn(db: Backend): RuleStore {
  return new Store(db);
}

class Store implements RuleStore {
  readonly kind: "sqlite" | "postgres";
  readonly postgres?: PgBackend;
  readonly rules: Collection<RuleInput, Rule, StoredRule, Row>;
  readonly links: Collection<LinkInput, Link, StoredLink, LinkRow>;

  constructor(private readonly db: Backend) {
    this.kind = db.kind;
    if (db.kind === "postgres") this.postgres = db as PgBackend;
    const write = <T>(fn: (q: Queries, revision: number) => Promise<T>, noun: Noun) => this.write(fn, noun);
    this.rules = new Collection(db, RULES, write);
    this.links = new Collection(db, LINKS, write);
  }

  /** One transaction, which first bumps the store's revision (fn gets the new one): in PostgreSQL
   *  that row's lock makes writers from every node take turns, so the clash checks, which no
   *  constraint can make (a rule or link for every node against the others, a link's interfaces
   *  against the rules' inputs), see every write before them. A unique violation from the
   *  database means a concurrent writer got there between the check and the write anyway, so the
   *  transaction is run again, and its check then reports the clash as a ConflictError. */
  private async write<T>(fn: (q: Queries, revision: number) => Promise<T>, noun: Noun): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.write(async (q) => fn(q, await q.bump()));
      } catch (e) {
        if (!this.db.isUniqueViolation(e)) throw e;
        if (attempt >= 5) throw new ConflictError(noun === "rule" ? "input" : "a", "", `the ${noun} clashes with a concurrently changed ${noun}; try again`);
      }
    }
  }

  list = () => this.rules.list();
  get = (id: string) => this.rules.get(id);
  getMany = (ids: string[]) => this.rules.getMany(ids);
  revisions = (node: string) => this.rules.revisions(node);
  create = (rule: RuleInput) => this.rules.create(rule);
  replace = (id: string, rule: RuleInput) => this.rules.replace(id, rule);
  delete = (id: string, revision?: number) => this.rules.delete(id, revision);
  restore = (rule: StoredRule, over: number | null) => this.rules.restore(rule, over);

  upsertMany(rules: RuleInput[], links: LinkInput[] = []): Promise<{ inserted: number; updated: number }> {
    return this.write(async (q, revision) => {
      const r = await this.rules.upsert(q, revision, rules);
      const l = await this.links.upsert(q, revision, links);
      await this.rules.checkCrossClashes(q, r.written);
      await this.links.checkCrossClashes(q, l.written);
      return { inserted: r.inserted + l.inserted, updated: r.updated + l.updated };
    }, "rule");
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
