// One kind of stored thing (rules, links) over its table: create, replace, delete, restore and a
// file's upsert, each checked for clashes in the same transaction as its write, and each taking
// the store's next revision. What differs between the kinds (schema, id, columns, what may not be
// shared) is a Kind (kinds.ts).
import type { Backend, BaseRow, Queries, TableQueries } from "./backend.ts";
import { ConflictError } from "./errors.ts";

export interface Stored {
  id: string;
  name?: string;
  /** the node that runs it; absent or "*": every node */
  node?: string;
  revision: number;
  createdAt: string;
  updatedAt: string;
}

/** What the stores answer for each kind. */
export interface CollectionApi<In, S extends Stored> {
  /** Ordered by createdAt, then id. */
  list(): Promise<S[]>;
  get(id: string): Promise<S | null>;
  /** Those with these ids that exist, in no particular order. */
  getMany(ids: string[]): Promise<S[]>;
  /** id → revision of every one the node runs (its own and those for every node). */
  revisions(node: string): Promise<Map<string, number>>;
  /** id = the given one, else derived. ConflictError when the id, name or what it takes is taken. */
  create(input: In): Promise<S>;
  /** Full replacement keeping id and createdAt; null for an unknown id. ConflictError when the
   *  body's id differs from id, or its name or what it takes belongs to another. */
  replace(id: string, input: In): Promise<S | null>;
  /** With `revision`, only while it still has it: the undo of a create, which must not take away
   *  what another node wrote since. */
  delete(id: string, revision?: number): Promise<boolean>;
  /** Puts one back exactly as it was (timestamps and revision too): the undo of a write the data
   *  plane refused. Its revision was its own before, so a node that saw the undone one applies it
   *  again. Only while the write undone is still the last (it has revision `over`, or with null is
   *  absent) and nothing took what it needs since: in a fleet another node may have written
   *  meanwhile, and that write stays. False when it did not put it back. */
  restore(s: S, over: number | null): Promise<boolean>;
}

export type Noun = "rule" | "link";

export interface Kind<In, Body extends { id?: string; name?: string; node?: string }, R extends BaseRow<Body>> {
  noun: Noun;
  table(q: Queries): TableQueries<R>;
  /** The body as stored (throws on an invalid one: callers validated it already). */
  parse(input: In | Body): Body;
  /** The id it is stored under: the given one, else derived from what it takes (and its node). */
  id(body: Body): string;
  row(body: Body, id: string, revision: number, createdAt: string, updatedAt: string): R;
  /** Throws ConflictError when another of its kind than `self` has its id, name or what it takes
   *  (on a node both run on). explicitId: the id was given, so a clash on it is reported before the others. */
  clashes(q: Queries, body: Body, id: string, explicitId: boolean, self?: string): Promise<void>;
  /** Throws ConflictError when one of these takes what one of the other kind has (an interface, on
   *  a node both run on): a list, so a file's thousands of rules are checked in one query. */
  crossClashes(q: Queries, bodies: Body[]): Promise<void>;
}

/** A write in one transaction, given the store's new revision; run again when a concurrent writer
 *  won a unique index (index.ts). */
export type Write = <T>(fn: (q: Queries, revision: number) => Promise<T>, noun: Noun) => Promise<T>;

export class Collection<In, Body extends { id?: string; name?: string; node?: string }, S extends Stored, R extends BaseRow<Body>> implements CollectionApi<In, S> {
  /** Parsed rows by id, while their revision and updatedAt are the same: listing 5,000 rules parsed
   *  5,000 bodies per request. The objects are shared: callers copy before they change one. */
  private readonly parsed = new Map<string, S>();

  constructor(private readonly db: Backend, private readonly kind: Kind<In, Body, R>, private readonly write: Write) {}

  /** Stored bodies are parsed again so fields added to the schema later get their defaults. */
  private toStored(r: R): S {
    return { ...this.kind.parse(r.body), id: r.id, revision: r.revision, createdAt: r.createdAt, updatedAt: r.updatedAt } as unknown as S;
  }

  private stored(r: R): S {
    const hit = this.parsed.get(r.id);
    if (hit && hit.revision === r.revision && hit.updatedAt === r.updatedAt && hit.createdAt === r.createdAt) return hit;
    const s = this.toStored(r);
    this.parsed.set(r.id, s);
    return s;
  }

  private run<T>(fn: (t: TableQueries<R>, q: Queries, revision: number) => Promise<T>): Promise<T> {
    return this.write((q, revision) => fn(this.kind.table(q), q, revision), this.kind.noun);
  }

  async list(): Promise<S[]> {
    const rows = await this.db.read((q) => this.kind.table(q).list());
    if (this.parsed.size > rows.length * 2) this.parsed.clear(); // deleted ones go now and then
    return rows.map((r) => this.stored(r));
  }

  async get(id: string): Promise<S | null> {
    const r = await this.db.read((q) => this.kind.table(q).get(id));
    return r ? this.stored(r) : null;
  }

  async getMany(ids: string[]): Promise<S[]> {
    if (!ids.length) return [];
    return (await this.db.read((q) => this.kind.table(q).getMany(ids))).map((r) => this.stored(r));
  }

  revisions(node: string): Promise<Map<string, number>> {
    return this.db.read((q) => this.kind.table(q).revisions(node));
  }

  async create(input: In): Promise<S> {
    const body = this.kind.parse(input);
    const id = this.kind.id(body);
    return this.run(async (t, q, revision) => {
      await this.kind.clashes(q, body, id, body.id !== undefined);
      await this.kind.crossClashes(q, [body]);
      const now = new Date().toISOString();
      const r = this.kind.row(body, id, revision, now, now);
      await t.insert(r);
      return this.toStored(r);
    });
  }

  async replace(id: string, input: In): Promise<S | null> {
    const body = this.kind.parse(input);
    const noun = this.kind.noun;
    if (body.id !== undefined && body.id !== id) throw new ConflictError("id", body.id, `the ${noun}'s id "${body.id}" is not "${id}"`);
    return this.run(async (t, q, revision) => {
      const old = await t.get(id);
      if (!old) return null;
      await this.kind.clashes(q, body, id, body.id !== undefined, id);
      await this.kind.crossClashes(q, [body]);
      const r = this.kind.row(body, id, revision, old.createdAt, new Date().toISOString());
      await t.update(id, r);
      return this.toStored(r);
    });
  }

  delete(id: string, revision?: number): Promise<boolean> {
    return this.run(async (t) => {
      if (revision !== undefined && (await t.get(id))?.revision !== revision) return false;
      return t.remove(id);
    });
  }

  async restore(s: S, over: number | null): Promise<boolean> {
    // The server's fields are the store's, not fields of the body (whose schema is strict).
    const { createdAt, updatedAt, revision, ...body } = s;
    const parsed = this.kind.parse(body as unknown as Body);
    const r = this.kind.row(parsed, s.id, revision, createdAt, updatedAt);
    return this.run(async (t, q) => {
      const now = await t.get(s.id);
      if ((now?.revision ?? null) !== over) return false;
      try {
        await this.kind.clashes(q, parsed, s.id, true, s.id);
        await this.kind.crossClashes(q, [parsed]);
      } catch (e) {
        if (e instanceof ConflictError) return false;
        throw e;
      }
      if (now) await t.update(s.id, r);
      else await t.insert(r);
      return true;
    });
  }

  /**
   * Part of a file's import, inside its transaction: each is inserted, or updates the stored one
   * with the same id, else the same name. `updated` counts only those that changed. The clashes
   * with the other kind are left to checkCrossClashes(), once everything is written: a file may
   * move an interface from a link to a rule, or back, in either order.
   */
  async upsert(q: Queries, revision: number, inputs: In[]): Promise<{ inserted: number; updated: number; written: Body[] }> {
    const t = this.kind.table(q);
    let inserted = 0;
    let updated = 0;
    const written: Body[] = [];
    for (const body of inputs.map((x) => this.kind.parse(x))) {
      const explicit = body.id !== undefined;
      const derived = this.kind.id(body);
      const now = new Date().toISOString();
      const old = (await t.get(derived)) ?? (body.name !== undefined ? await t.byName(body.name) : undefined);
      if (!old) {
        await this.kind.clashes(q, body, derived, explicit);
        await t.insert(this.kind.row(body, derived, revision, now, now));
        written.push(body);
        inserted++;
        continue;
      }
      // Matched by name: the stored one keeps its id unless the file gives one.
      const id = explicit ? derived : old.id;
      await this.kind.clashes(q, body, id, explicit, old.id);
      const r = this.kind.row(body, id, revision, old.createdAt, now);
      if (r.id === old.id && JSON.stringify(r.body) === JSON.stringify(old.body)) continue;
      await t.update(old.id, r);
      written.push(body);
      updated++;
    }
    return { inserted, updated, written };
  }

  /** The clashes with the other kind of what upsert() wrote. */
  checkCrossClashes(q: Queries, written: Body[]): Promise<void> {
    return this.kind.crossClashes(q, written);
  }
}
