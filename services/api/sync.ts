// Keeps the data plane equal to the store. On every (re)connect: the rules file's rules and links
// are imported once, then the whole store is sent (`sync`). After that, every write goes through
// write(): the store is changed, then only that change is sent (`change`); if the data plane does
// not take it (refused, unreachable, too slow), the store change is undone and the caller says
// why — a rule or link is stored exactly when it is in force. Writes run one at a time, so an
// undo never meets a concurrent write of the same rule or link.
import type { Link } from "../../rules/link.ts";
import type { Rule } from "../../rules/schema.ts";
import type { ControlIssue, LinkStatus, RequestBody, RuleStatus } from "../protocol/control.ts";
import { LINK_SERVER_FIELDS, type StoredLink } from "../protocol/links.ts";
import { withoutServerFields, type StoredRule } from "../protocol/rules.ts";
import { RefusedError, type SupervisorLink } from "./link.ts";
import type { RuleStore } from "./store/index.ts";

export function toRule(r: StoredRule): Rule {
  return withoutServerFields(r) as Rule;
}

export function toLink(l: StoredLink): Link {
  return withoutServerFields(l, LINK_SERVER_FIELDS) as Link;
}

/** How long a change may take to be applied before it counts as not taken. */
const APPLY_MS = 30_000;
/** A whole desired state of 16,384 rules takes a while to check and apply. */
const SYNC_MS = 120_000;

/** What the data plane is to do: the `change` request's rules put and deleted, and its links. */
export type DataPlaneChange = Omit<Extract<RequestBody, { type: "change" }>, "type">;

/** What a write did to the store: the change for the data plane, and its undo. */
export interface StoreChange<T> extends DataPlaneChange {
  value: T;
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

interface Log {
  warn(o: object, m: string): void;
  info(o: object, m: string): void;
  error(o: object, m: string): void;
}

export class DataPlaneSync {
  /** The supervisor runs the store's rules (a full sync succeeded since the last connect). */
  synced = false;
  private tail: Promise<unknown> = Promise.resolve();

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
    void this.importAndSync();
  }

  /** Takes the rules file's rules into the store (once per start or SIGHUP), then syncs. */
  importAndSync(): Promise<void> {
    return this.serial(async () => {
      try {
        const hello = await this.link.request<"hello">({ type: "hello" });
        if (hello.fileRules.length || hello.fileLinks.length) {
          await this.store.upsertMany(hello.fileRules, hello.fileLinks);
          await this.link.request<"done">({ type: "imported" });
        }
        const rules = (await this.store.list()).map(toRule);
        const links = (await this.store.links.list()).map(toLink);
        await this.link.request<"applied">({ type: "sync", rules, links }, SYNC_MS);
        this.synced = true;
      } catch (e) {
        this.synced = false;
        const issues = e instanceof RefusedError ? e.reply.issues : undefined;
        this.log.warn({ err: (e as Error).message, ...(issues ? { issues: issues.slice(0, 10) } : {}) }, "the supervisor did not take the stored rules and links; will try again on reconnect");
      }
    });
  }

  /**
   * A store write and its change to the data plane, as one. `change` writes the store and says
   * what it did (or returns null: nothing to do, e.g. an unknown id); the data plane then takes
   * the change, or the store is put back as it was.
   */
  write<T>(change: () => Promise<StoreChange<T> | null>): Promise<WriteResult<T> | null> {
    return this.serial(async () => {
      const c = await change();
      if (!c) return null;
      try {
        if (!this.link.connected) throw new Error("the supervisor is not connected");
        const r = await this.link.request<"applied">({ type: "change", put: c.put, delete: c.delete, ...(c.links ? { links: c.links } : {}) }, APPLY_MS);
        // What is read after this answer must show the change: the status event may still be on its way.
        this.link.invalidate();
        return { ok: true as const, value: c.value, states: { rules: new Map(r.rules.map((s) => [s.id, s])), links: new Map(r.links.map((s) => [s.id, s])) } };
      } catch (e) {
        try {
          await c.undo();
        } catch (u) {
          // Store and data plane may now disagree: the next full sync settles it.
          this.synced = false;
          this.log.error({ err: (u as Error).message }, "could not undo a store change the data plane did not take");
          void this.importAndSync();
        }
        // Refused with the rules or links and fields to blame: the request's fault. Any other failure
        // (a worker died while applying, no answer) is the data plane's.
        if (e instanceof RefusedError && e.reply.issues?.length) return { ok: false as const, refused: e.reply.issues, message: e.message };
        return { ok: false as const, refused: null, message: (e as Error).message };
      }
    });
  }
}
