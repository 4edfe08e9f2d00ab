// The rule store: rules kept in embedded SQLite (default) or PostgreSQL (DATABASE_URL), through
// drizzle-orm, with the same calling code for both. Migrations come from drizzle/ (npm run db:generate).
import { join } from "node:path";
import { inputKey, ruleId } from "../../../rules/load.ts";
import { ruleSchema, type Rule, type RuleInput } from "../../../rules/schema.ts";
import type { StoredRule } from "../../protocol/rules.ts";
import type { Backend, Queries, Row } from "./backend.ts";
export { StoreUnavailableError } from "./errors.ts";
import { openPostgres } from "./pg.ts";
import { openSqlite } from "./sqlite.ts";

export type { StoredRule } from "../../protocol/rules.ts";

export class ConflictError extends Error {
  override readonly name = "ConflictError";
  constructor(
    readonly field: "id" | "name" | "input",
    readonly otherId: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RuleStore {
  readonly kind: "sqlite" | "postgres";
  /** Ordered by createdAt, then id. */
  list(): Promise<StoredRule[]>;
  get(id: string): Promise<StoredRule | null>;
  /** id = rule.id ?? ruleId(rule). ConflictError when the id, name or input is taken. */
  create(rule: RuleInput): Promise<StoredRule>;
  /** Full replacement keeping id and createdAt; null for an unknown id. ConflictError when rule.id
   *  differs from id, or the name or input belongs to another rule. */
  replace(id: string, rule: RuleInput): Promise<StoredRule | null>;
  delete(id: string): Promise<boolean>;
  /** Puts a rule back exactly as it was (timestamps too): the undo of a write the data plane refused. */
  restore(rule: StoredRule): Promise<void>;
  /** Rules from a --config file, in one transaction: each is inserted, or updates the stored rule
   *  with the same id, else the same name. `updated` counts only rules that changed. */
  upsertMany(rules: RuleInput[]): Promise<{ inserted: number; updated: number }>;
  close(): Promise<void>;
}

const MIGRATIONS = join(import.meta.dir, "../../../drizzle");

export async function openStore(opts: { databaseUrl?: string; stateDir: string }): Promise<RuleStore> {
  const url = opts.databaseUrl;
  if (url && /^postgres(ql)?:\/\//.test(url)) return new Store(await openPostgres(url, join(MIGRATIONS, "pg")));
  if (url) throw new Error(`DATABASE_URL must start with postgres:// or postgresql:// (got "${url.split(":")[0]}:…")`);
  return new Store(openSqlite(opts.stateDir, join(MIGRATIONS, "sqlite")));
}

/** What a rule will be stored as. */
interface Wanted {
  id: string;
  /** The id was given, not derived from the input: a clash on it is reported before others. */
  explicitId: boolean;
  rule: Rule;
}

/** Stored bodies are parsed again so fields added to the schema later get their defaults. */
const toStored = (r: Row): StoredRule => ({ ...ruleSchema.parse(r.body), id: r.id, createdAt: r.createdAt, updatedAt: r.updatedAt });

function want(input: RuleInput): Wanted {
  const rule = ruleSchema.parse(input);
  return { id: ruleId(rule), explicitId: rule.id !== undefined, rule };
}

function row(w: Wanted, id: string, createdAt: string, updatedAt: string): Row {
  const { id: _, ...rest } = w.rule;
  return { id, name: w.rule.name ?? null, inputKey: inputKey(w.rule), body: { id, ...rest }, createdAt, updatedAt };
}

/** Throws ConflictError if a rule other than `self` has w's id, name or input. */
async function checkClashes(q: Queries, w: Wanted, id: string, self?: string): Promise<void> {
  const key = inputKey(w.rule);
  const others = (await q.clashes(id, w.rule.name, key)).filter((r) => r.id !== self);
  const idClash = others.find((r) => r.id === id);
  const nameClash = w.rule.name === undefined ? undefined : others.find((r) => r.name === w.rule.name);
  const inputClash = others.find((r) => r.inputKey === key);
  if (idClash && w.explicitId) throw new ConflictError("id", idClash.id, `a rule with id "${id}" already exists`);
  if (nameClash) throw new ConflictError("name", nameClash.id, `name "${w.rule.name}" is already used by rule ${nameClash.id}`);
  if (inputClash) throw new ConflictError("input", inputClash.id, `input ${key} is already used by rule ${inputClash.id}`);
  if (idClash) throw new ConflictError("id", idClash.id, `a rule with id "${id}" already exists`);
}

class Store implements RuleStore {
  readonly kind: "sqlite" | "postgres";
  /** Parsed rows by id, while their updatedAt is the same: listing 5,000 rules parsed 5,000 bodies
   *  per request. The objects are shared: callers copy before they change one. */
  private readonly parsed = new Map<string, StoredRule>();

  constructor(private readonly db: Backend) {
    this.kind = db.kind;
  }

  private stored(r: Row): StoredRule {
    const hit = this.parsed.get(r.id);
    if (hit && hit.updatedAt === r.updatedAt && hit.createdAt === r.createdAt) return hit;
    const s = toStored(r);
    this.parsed.set(r.id, s);
    return s;
  }

  /** One transaction. Every write checks for clashes first; a unique violation from the database
   *  means a concurrent writer got there between the check and the write, so the transaction is
   *  run again, and its check then reports the clash as a ConflictError. */
  private async write<T>(fn: (q: Queries) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.write(fn);
      } catch (e) {
        if (!this.db.isUniqueViolation(e)) throw e;
        if (attempt >= 5) throw new ConflictError("input", "", "the rule clashes with a concurrently changed rule; try again");
      }
    }
  }

  async list(): Promise<StoredRule[]> {
    const rows = await this.db.read((q) => q.list());
    if (this.parsed.size > rows.length * 2) this.parsed.clear(); // deleted rules go now and then
    return rows.map((r) => this.stored(r));
  }

  async get(id: string): Promise<StoredRule | null> {
    const r = await this.db.read((q) => q.get(id));
    return r ? this.stored(r) : null;
  }

  async create(rule: RuleInput): Promise<StoredRule> {
    const w = want(rule);
    return this.write(async (q) => {
      await checkClashes(q, w, w.id);
      const now = new Date().toISOString();
      const r = row(w, w.id, now, now);
      await q.insert(r);
      return toStored(r);
    });
  }

  async replace(id: string, rule: RuleInput): Promise<StoredRule | null> {
    const w = want(rule);
    if (rule.id !== undefined && rule.id !== id) throw new ConflictError("id", rule.id, `the rule's id "${rule.id}" is not "${id}"`);
    return this.write(async (q) => {
      const old = await q.get(id);
      if (!old) return null;
      await checkClashes(q, { ...w, id }, id, id);
      const r = row(w, id, old.createdAt, new Date().toISOString());
      await q.update(id, r);
      return toStored(r);
    });
  }

  async delete(id: string): Promise<boolean> {
    return this.write((q) => q.remove(id));
  }

  async restore(r: StoredRule): Promise<void> {
    const { createdAt: _c, updatedAt: _u, ...rule } = r; // the timestamps are the store's, not rule fields
    const w = want(rule);
    const stored = row(w, r.id, r.createdAt, r.updatedAt);
    await this.write(async (q) => {
      if (await q.get(r.id)) await q.update(r.id, stored);
      else await q.insert(stored);
    });
  }

  async upsertMany(rules: RuleInput[]): Promise<{ inserted: number; updated: number }> {
    const wanted = rules.map(want);
    return this.write(async (q) => {
      let inserted = 0;
      let updated = 0;
      for (const w of wanted) {
        const now = new Date().toISOString();
        const old = (await q.get(w.id)) ?? (w.rule.name !== undefined ? await q.byName(w.rule.name) : undefined);
        if (!old) {
          await checkClashes(q, w, w.id);
          await q.insert(row(w, w.id, now, now));
          inserted++;
          continue;
        }
        // Matched by name: the stored rule keeps its id unless the file gives one.
        const id = w.explicitId ? w.id : old.id;
        await checkClashes(q, w, id, old.id);
        const r = row(w, id, old.createdAt, now);
        if (r.id === old.id && JSON.stringify(r.body) === JSON.stringify(old.body)) continue;
        await q.update(old.id, r);
        updated++;
      }
      return { inserted, updated };
    });
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
