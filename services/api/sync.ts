// Keeps the data plane equal to the store: of the store's rules and links, those this node runs
// (its own and those for every node). On every (re)connect: the rules file's rules and links are
// imported once, then the node's are sent whole (`sync`). After that, every write goes through
// write(): the store is changed, then only that change is sent (`change`); if the data plane does
// not take it (refused, unreachable, too slow), the store change is undone and the caller says
// why — a rule or link of this node is stored exactly when it is in force. A write of one for
// another node only stores it: that node takes it from the store (reconcile(), which the fleet's
// notifications and a timer call) and reports back. Writes and reconciles run one at a time, so an
// undo never meets a concurrent write of the same rule or link, and what the supervisor runs
// (`applied`) is known exactly. Rules and links are handled alike, by kind (Noun).
import type { Link } from "../../rules/link.ts";
import { runsOn } from "../../rules/load.ts";
import type { Rule } from "../../rules/schema.ts";
import type { ControlIssue, LinkStatus, Reply, RequestBody, RuleStatus } from "../protocol/control.ts";
import { LINK_SERVER_FIELDS, type StoredLink } from "../protocol/links.ts";
import { withoutServerFields, type StoredRule } from "../protocol/rules.ts";
import { RefusedError, type SupervisorLink } from "./link.ts";
import type { CollectionApi, Noun, Stored } from "./store/collection.ts";
import type { RuleStore } from "./store/index.ts";

export function toRule(r: StoredRule): Rule {
  return withoutServerFields(r) as Rule;
}

export function toLink(l: StoredLink): Link {
  return withoutServerFields(l, LINK_SERVER_FIELDS) as Link;
}

/** The kinds, in the order a change carries them. */
export const NOUNS: readonly Noun[] = ["rule", "link"];

/** A kind's store, for what sync and the fleet do with any kind. */
export function collectionOf(store: Pick<RuleStore, "rules" | "links">, noun: Noun): CollectionApi<never, Stored> {
  return (noun === "rule" ? store.rules : store.links) as unknown as CollectionApi<never, Stored>;
}

/** How long a change may take to be applied before it counts as not taken. */
const APPLY_MS = 30_000;
/** A whole desired state of 16,384 rules takes a while to check and apply. */
const SYNC_MS = 120_000;

/** What a write did to the store, of one kind: what it put (as it is now) and deleted (as it was), and its undo. */
export interface StoreChange<T> {
  value: T;
  noun: Noun;
  put: Stored[];
  delete: Stored[];
  undo: () => Promise<unknown>;
}

/** The data plane's state of what a change put, by id. */
export interface Applied {
  rules: Map<string, RuleStatus>;
  links: Map<string, LinkStatus>;
}

export type WriteResult<T> =
  | { ok: true; value: T; states: Applied }
  | { ok: false; refused: ControlIssue[]; message: string }
  | { ok: false; refused: null; message: string };

export type Hello = Extract<Reply, { type: "hello" }>;

/** Of each kind: what to put and what to delete (by id). */
type Parts = Record<Noun, { put: Stored[]; del: string[] }>;
const parts = (): Parts => ({ rule: { put: [], del: [] }, link: { put: [], del: [] } });

/** Per kind: id → what is known of it. */
export type ByKind<V> = Record<Noun, Map<string, V>>;
const byKind = <V>(): ByKind<V> => ({ rule: new Map(), link: new Map() });

/** The supervisor's request for these parts: the whole desired state, or a change. */
function request(p: Parts, whole: boolean): RequestBody {
  const rules = p.rule.put.map((r) => toRule(r as StoredRule));
  const links = p.link.put.map((l) => toLink(l as StoredLink));
  if (whole) return { type: "sync", rules, links };
  return { type: "change", put: rules, delete: p.rule.del, ...(links.length || p.link.del.length ? { links: { put: links, delete: p.link.del } } : {}) };
}

interface Log {
  warn(o: object, m: string): void;
  info(o: object, m: string): void;
  error(o: object, m: string): void;
  debug(o: object, m: string): void;
}

const describeIssues = (issues: ControlIssue[]) => issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");

export class DataPlaneSync {
  /** The supervisor runs the store's rules and links (a full sync succeeded since the last connect). */
  synced = false;
  /** This node's name, from its supervisor's hello (null until the first). */
  node: string | null = null;
  /** What the supervisor runs of the store, per kind: id → revision, as it took them. */
  readonly applied = byKind<number>();
  /** Rules and links of this node its supervisor refused (when they came from the store, not from
   *  a write through this API, which is undone instead): id → the revision and why. Tried again now and then. */
  readonly refused = byKind<{ revision: number; reason: string }>();
  /** Called with every hello (the node's name and start). */
  onHello: (h: Hello) => void = () => {};
  /** Called when `applied` or `refused` changed. */
  onApplied: () => void = () => {};
  private tail: Promise<unknown> = Promise.resolve();
  private queuedReconcile: Promise<void> | null = null;
  private lastFailure = "";

  constructor(private readonly store: RuleStore, private readonly link: SupervisorLink, private readonly log: Log) {}

  /** Runs fn after every write and sync before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.tail.then(fn);
    this.tail = r.catch(() => {});
    return r;
  }

  /** On every (re)connect: import the file's rules and links once, then send the whole desired state. */
  onConnect(): void {
    this.synced = false;
    // A supervisor that (re)connects runs what it runs: nothing is known until the sync says.
    for (const n of NOUNS) {
      this.applied[n].clear();
      this.refused[n].clear();
    }
    void this.importAndSync();
  }

  /** Takes the rules file's rules and links into the store (once per start or SIGHUP), then syncs. */
  importAndSync(): Promise<void> {
    return this.serial(() => this.fullSync());
  }

  private async fullSync(): Promise<void> {
    try {
      const hello = await this.link.request<"hello">({ type: "hello" });
      this.node = hello.node;
      this.onHello(hello);
      if (hello.fileRules.length || hello.fileLinks.length) {
        await this.store.upsertMany(hello.fileRules, hello.fileLinks);
        await this.link.request<"done">({ type: "imported" });
      }
      const mine = parts();
      for (const n of NOUNS) mine[n].put = (await collectionOf(this.store, n).list()).filter((x) => runsOn(x, hello.node));
      for (const n of NOUNS) this.refused[n].clear();
      const taken = await this.take(mine, true);
      for (const n of NOUNS) {
        this.applied[n].clear();
        for (const x of taken[n]) this.applied[n].set(x.id, x.revision);
      }
      this.synced = true;
      this.lastFailure = "";
    } catch (e) {
      this.synced = false;
      const issues = e instanceof RefusedError ? e.reply.issues : undefined;
      const what = { err: (e as Error).message, ...(issues ? { issues: issues.slice(0, 10) } : {}) };
      // Tried again on reconnect, and in a fleet every 5 s: said once until the reason changes.
      const said = JSON.stringify(what);
      if (said !== this.lastFailure) this.log.warn(what, "the supervisor did not take the stored rules and links; will try again");
      this.lastFailure = said;
    } finally {
      this.onApplied();
    }
  }

  /**
   * Sends rules and links to the supervisor (the whole set, or a change). One it refuses, naming
   * it, is left out and the rest sent again, so one that another node wrote and that does not fit
   * this host does not keep the others out; the refused ones go into `refused`. Anything else it
   * throws. Returns what was taken, by kind.
   */
  private async take(p: Parts, whole: boolean): Promise<Record<Noun, Stored[]>> {
    const rest = { ...p };
    for (;;) {
      if (!whole && NOUNS.every((n) => !rest[n].put.length && !rest[n].del.length)) return { rule: [], link: [] };
      try {
        await this.link.request<"applied">(request(rest, whole), whole ? SYNC_MS : APPLY_MS);
        return { rule: rest.rule.put, link: rest.link.put };
      } catch (e) {
        const issues = e instanceof RefusedError ? (e.reply.issues ?? []) : [];
        let blamed = 0;
        for (const n of NOUNS) {
          const ids = new Set(rest[n].put.map((x) => x.id));
          const mine = Map.groupBy(issues.filter((i) => (i.kind ?? "rule") === n && ids.has(i.id)), (i) => i.id);
          if (!mine.size) continue;
          blamed += mine.size;
          for (const x of rest[n].put) {
            const why = mine.get(x.id);
            if (why) this.refused[n].set(x.id, { revision: x.revision, reason: `refused by this node: ${describeIssues(why)}` });
          }
          this.log.warn({ [`${n}s`]: [...mine.keys()].slice(0, 10), count: mine.size }, `this node refused ${n}s from the store; the others are applied`);
          rest[n] = { put: rest[n].put.filter((x) => !mine.has(x.id)), del: rest[n].del };
        }
        if (!blamed) throw e;
      }
    }
  }

  /**
   * Makes the supervisor run what the store holds for this node now: the rules and links whose
   * revision differs from what it runs, and the deletions. Cheap when nothing changed (one query
   * of ids and revisions per kind). One refused at its revision is not sent again unless
   * retryRefused. Calls that come while one waits to run share it.
   */
  reconcile(retryRefused = false): Promise<void> {
    if (this.queuedReconcile && !retryRefused) return this.queuedReconcile;
    const p = this.serial(async () => {
      if (this.queuedReconcile === p) this.queuedReconcile = null; // a change from now on needs another run
      const node = this.node;
      if (!this.link.connected || node === null) return;
      if (!this.synced) return this.fullSync();
      const want = parts();
      let forgot = false;
      for (const n of NOUNS) {
        const revisions = await collectionOf(this.store, n).revisions(node);
        const put = [...revisions].filter(([id, rev]) => this.applied[n].get(id) !== rev && (retryRefused || this.refused[n].get(id)?.revision !== rev)).map(([id]) => id);
        want[n].del = [...this.applied[n].keys()].filter((id) => !revisions.has(id));
        for (const id of this.refused[n].keys()) if (!revisions.has(id)) forgot = this.refused[n].delete(id);
        // One deleted since is not there: the next reconcile deletes it if it was applied.
        want[n].put = (await collectionOf(this.store, n).getMany(put)).filter((x) => runsOn(x, node));
      }
      if (NOUNS.every((n) => !want[n].put.length && !want[n].del.length)) {
        if (forgot) this.onApplied();
        return;
      }
      const taken = await this.take(want, false);
      for (const n of NOUNS) {
        for (const id of want[n].del) this.applied[n].delete(id);
        for (const x of taken[n]) {
          this.applied[n].set(x.id, x.revision);
          this.refused[n].delete(x.id);
        }
      }
      this.log.debug({ put: taken.rule.length + taken.link.length, deleted: want.rule.del.length + want.link.del.length }, "reconciled with the store");
      this.onApplied();
    });
    if (!retryRefused) this.queuedReconcile = p;
    return p.finally(() => void (this.queuedReconcile === p && (this.queuedReconcile = null)));
  }

  /**
   * A store write and its change to the data plane, as one. `change` writes the store and says
   * what it did (or returns null: nothing to do, e.g. an unknown id); the data plane then takes
   * the part of the change this node runs, or the store is put back as it was. A write that does
   * not concern this node (one for another node) is done once stored.
   */
  write<T>(change: () => Promise<StoreChange<T> | null>): Promise<WriteResult<T> | null> {
    return this.serial(async () => {
      const c = await change();
      if (!c) return null;
      const node = this.node;
      const n = c.noun;
      // Before the first hello nothing is known, and the supervisor is not connected: as before fleets.
      const here = (x: Stored) => node === null || runsOn(x, node);
      const p = parts();
      p[n].put = c.put.filter(here);
      // Moved to another node, or deleted: gone from here if it ran here (or may have: not synced yet).
      p[n].del = [...c.put.filter((x) => !here(x)), ...c.delete].map((x) => x.id).filter((id) => node === null || !this.synced || this.applied[n].has(id));
      const ids = [...c.put, ...c.delete].map((x) => x.id);
      try {
        if (!p[n].put.length && !p[n].del.length) {
          this.forget(n, ids);
          return { ok: true as const, value: c.value, states: { rules: new Map(), links: new Map() } };
        }
        if (!this.link.connected) throw new Error("the supervisor is not connected");
        const r = await this.link.request<"applied">(request(p, false), APPLY_MS);
        for (const id of p[n].del) this.applied[n].delete(id);
        for (const x of p[n].put) this.applied[n].set(x.id, x.revision);
        this.forget(n, ids);
        // What is read after this answer must show the change: the status event may still be on its way.
        this.link.invalidate();
        return { ok: true as const, value: c.value, states: { rules: new Map(r.rules.map((s) => [s.id, s])), links: new Map((r.links ?? []).map((s) => [s.id, s])) } };
      } catch (e) {
        try {
          await c.undo();
        } catch (u) {
          // Store and data plane may now disagree: the next full sync settles it.
          this.synced = false;
          this.log.error({ err: (u as Error).message }, "could not undo a store change the data plane did not take");
          void this.importAndSync();
        }
        // Refused with the rules or links and fields to blame: the request's fault. Any other
        // failure (a worker died while applying, no answer) is the data plane's.
        if (e instanceof RefusedError && e.reply.issues?.length) return { ok: false as const, refused: e.reply.issues, message: e.message };
        return { ok: false as const, refused: null, message: (e as Error).message };
      }
    });
  }

  /** Those written through this API are no longer refused ones (they were taken, or are elsewhere). */
  private forget(noun: Noun, ids: string[]): void {
    for (const id of ids) this.refused[noun].delete(id);
    this.onApplied();
  }
}
