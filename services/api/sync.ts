// Keeps the data plane equal to the store: of the store's rules, those this node runs (its own and
// those for every node). On every (re)connect: the rules file is imported once, then the node's
// rules are sent whole (`sync`). After that, every write goes through write(): the store is
// changed, then only that change is sent (`change`); if the data plane does not take it
// (refused, unreachable, too slow), the store change is undone and the caller says why — a rule
// of this node is stored exactly when it is in force. A write of a rule for another node only
// stores it: that node takes it from the store (reconcile(), which the fleet's notifications and a
// timer call) and reports back. Writes and reconciles run one at a time, so an undo never meets a
// concurrent write of the same rule, and what the supervisor runs (`applied`) is known exactly.
import { runsOn } from "../../rules/load.ts";
import type { Rule } from "../../rules/schema.ts";
import type { ControlIssue, Reply, RuleStatus } from "../protocol/control.ts";
import { withoutServerFields, type StoredRule } from "../protocol/rules.ts";
import { RefusedError, type SupervisorLink } from "./link.ts";
import type { RuleStore } from "./store/index.ts";

export function toRule(r: StoredRule): Rule {
  return withoutServerFields(r) as Rule;
}

/** How long a change may take to be applied before it counts as not taken. */
const APPLY_MS = 30_000;
/** A whole desired state of 16,384 rules takes a while to check and apply. */
const SYNC_MS = 120_000;

/** What a write did to the store: the rules it put and deleted (as they are now, and as they
 *  were), and its undo. */
export interface StoreChange<T> {
  value: T;
  put: StoredRule[];
  delete: StoredRule[];
  undo: () => Promise<unknown>;
}

export type WriteResult<T> =
  | { ok: true; value: T; states: Map<string, RuleStatus> }
  | { ok: false; refused: ControlIssue[]; message: string }
  | { ok: false; refused: null; message: string };

export type Hello = Extract<Reply, { type: "hello" }>;

interface Log {
  warn(o: object, m: string): void;
  info(o: object, m: string): void;
  error(o: object, m: string): void;
  debug(o: object, m: string): void;
}

const describeIssues = (issues: ControlIssue[]) => issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");

export class DataPlaneSync {
  /** The supervisor runs the store's rules (a full sync succeeded since the last connect). */
  synced = false;
  /** This node's name, from its supervisor's hello (null until the first). */
  node: string | null = null;
  /** What the supervisor runs of the store: rule id → revision, as it took them. */
  readonly applied = new Map<string, number>();
  /** Rules of this node its supervisor refused (when they came from the store, not from a write
   *  through this API, which is undone instead): id → the revision and why. Tried again now and then. */
  readonly refused = new Map<string, { revision: number; reason: string }>();
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

  /** On every (re)connect: import the file's rules once, then send the whole desired state. */
  onConnect(): void {
    this.synced = false;
    // A supervisor that (re)connects runs what it runs: nothing is known until the sync says.
    this.applied.clear();
    this.refused.clear();
    void this.importAndSync();
  }

  /** Takes the rules file's rules into the store (once per start or SIGHUP), then syncs. */
  importAndSync(): Promise<void> {
    return this.serial(() => this.fullSync());
  }

  private async fullSync(): Promise<void> {
    try {
      const hello = await this.link.request<"hello">({ type: "hello" });
      this.node = hello.node;
      this.onHello(hello);
      if (hello.fileRules.length) {
        await this.store.upsertMany(hello.fileRules);
        await this.link.request<"done">({ type: "imported" });
      }
      const mine = (await this.store.list()).filter((r) => runsOn(r, hello.node));
      this.refused.clear();
      const { taken } = await this.take(mine, [], true);
      this.applied.clear();
      for (const r of taken) this.applied.set(r.id, r.revision);
      this.synced = true;
      this.lastFailure = "";
    } catch (e) {
      this.synced = false;
      const issues = e instanceof RefusedError ? e.reply.issues : undefined;
      const what = { err: (e as Error).message, ...(issues ? { issues: issues.slice(0, 10) } : {}) };
      // Tried again on reconnect, and in a fleet every 5 s: said once until the reason changes.
      const said = JSON.stringify(what);
      if (said !== this.lastFailure) this.log.warn(what, "the supervisor did not take the stored rules; will try again");
      this.lastFailure = said;
    } finally {
      this.onApplied();
    }
  }

  /**
   * Sends rules to the supervisor (the whole set, or a change). A rule it refuses, naming it, is
   * left out and the rest sent again, so one rule another node wrote that does not fit this host
   * does not keep the others out; the refused ones go into `refused`. Anything else it throws.
   */
  private async take(put: StoredRule[], del: string[], whole: boolean): Promise<{ taken: StoredRule[]; states: RuleStatus[] }> {
    let rest = put;
    for (;;) {
      if (!whole && !rest.length && !del.length) return { taken: [], states: [] };
      try {
        const r = whole
          ? await this.link.request<"applied">({ type: "sync", rules: rest.map(toRule) }, SYNC_MS)
          : await this.link.request<"applied">({ type: "change", put: rest.map(toRule), delete: del }, APPLY_MS);
        return { taken: rest, states: r.rules };
      } catch (e) {
        const ids = new Set(rest.map((r) => r.id));
        const blamed = e instanceof RefusedError ? (e.reply.issues ?? []).filter((i) => ids.has(i.id)) : [];
        if (!blamed.length) throw e;
        const byId = Map.groupBy(blamed, (i) => i.id);
        for (const r of rest) {
          const issues = byId.get(r.id);
          if (issues) this.refused.set(r.id, { revision: r.revision, reason: `refused by this node: ${describeIssues(issues)}` });
        }
        this.log.warn({ rules: [...byId.keys()].slice(0, 10), count: byId.size }, "this node refused rules from the store; the others are applied");
        rest = rest.filter((r) => !byId.has(r.id));
      }
    }
  }

  /**
   * Makes the supervisor run what the store holds for this node now: the rules whose revision
   * differs from what it runs, and the deletions. Cheap when nothing changed (one query of ids and
   * revisions). A rule refused at its revision is not sent again unless retryRefused. Calls that
   * come while one waits to run share it.
   */
  reconcile(retryRefused = false): Promise<void> {
    if (this.queuedReconcile && !retryRefused) return this.queuedReconcile;
    const p = this.serial(async () => {
      if (this.queuedReconcile === p) this.queuedReconcile = null; // a change from now on needs another run
      const node = this.node;
      if (!this.link.connected || node === null) return;
      if (!this.synced) return this.fullSync();
      const revisions = await this.store.revisions(node);
      const put = [...revisions].filter(([id, rev]) => this.applied.get(id) !== rev && (retryRefused || this.refused.get(id)?.revision !== rev)).map(([id]) => id);
      const del = [...this.applied.keys()].filter((id) => !revisions.has(id));
      let forgot = false;
      for (const id of this.refused.keys()) if (!revisions.has(id)) forgot = this.refused.delete(id);
      if (!put.length && !del.length) {
        if (forgot) this.onApplied();
        return;
      }
      // A rule deleted since is not there: the next reconcile deletes it if it was applied.
      const rules = (await this.store.getMany(put)).filter((r) => runsOn(r, node));
      const { taken } = await this.take(rules, del, false);
      for (const id of del) this.applied.delete(id);
      for (const r of taken) {
        this.applied.set(r.id, r.revision);
        this.refused.delete(r.id);
      }
      this.log.debug({ put: taken.length, deleted: del.length, refused: rules.length - taken.length }, "reconciled with the store");
      this.onApplied();
    });
    if (!retryRefused) this.queuedReconcile = p;
    return p.finally(() => void (this.queuedReconcile === p && (this.queuedReconcile = null)));
  }

  /**
   * A store write and its change to the data plane, as one. `change` writes the store and says
   * what it did (or returns null: nothing to do, e.g. an unknown id); the data plane then takes
   * the part of the change this node runs, or the store is put back as it was. A write that does
   * not concern this node (a rule for another one) is done once stored.
   */
  write<T>(change: () => Promise<StoreChange<T> | null>): Promise<WriteResult<T> | null> {
    return this.serial(async () => {
      const c = await change();
      if (!c) return null;
      const node = this.node;
      // Before the first hello nothing is known, and the supervisor is not connected: as before fleets.
      const here = (r: StoredRule) => node === null || runsOn(r, node);
      const put = c.put.filter(here);
      // Moved to another node, or deleted: gone from here if it ran here (or may have: not synced yet).
      const del = [...c.put.filter((r) => !here(r)), ...c.delete].map((r) => r.id).filter((id) => node === null || !this.synced || this.applied.has(id));
      try {
        if (!put.length && !del.length) {
          this.forget([...c.put, ...c.delete].map((r) => r.id));
          return { ok: true as const, value: c.value, states: new Map() };
        }
        if (!this.link.connected) throw new Error("the supervisor is not connected");
        const r = await this.link.request<"applied">({ type: "change", put: put.map(toRule), delete: del }, APPLY_MS);
        for (const id of del) this.applied.delete(id);
        for (const x of put) this.applied.set(x.id, x.revision);
        this.forget([...c.put, ...c.delete].map((r) => r.id));
        // What is read after this answer must show the change: the status event may still be on its way.
        this.link.invalidate();
        return { ok: true as const, value: c.value, states: new Map(r.rules.map((s) => [s.id, s])) };
      } catch (e) {
        try {
          await c.undo();
        } catch (u) {
          // Store and data plane may now disagree: the next full sync settles it.
          this.synced = false;
          this.log.error({ err: (u as Error).message }, "could not undo a store change the data plane did not take");
          void this.importAndSync();
        }
        // Refused with the rules and fields to blame: the request's fault. Any other failure
        // (a worker died while applying, no answer) is the data plane's.
        if (e instanceof RefusedError && e.reply.issues?.length) return { ok: false as const, refused: e.reply.issues, message: e.message };
        return { ok: false as const, refused: null, message: (e as Error).message };
      }
    });
  }

  /** Rules written through this API are no longer refused ones (they were taken, or are elsewhere). */
  private forget(ids: string[]): void {
    for (const id of ids) this.refused.delete(id);
    this.onApplied();
  }
}
