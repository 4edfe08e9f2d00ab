// Keeps the supervisor's rules equal to the store's. Writes are persisted first, then synced;
// concurrent syncs coalesce: each caller is answered by an apply that began after its write.
import type { SupervisorLink } from "./link.ts";
import type { RuleStore, StoredRule } from "./store/index.ts";
import type { Rule } from "../../rules/schema.ts";
import { withoutServerFields } from "../protocol/rules.ts";
import type { Status } from "../protocol/status.ts";

export function toRule(r: StoredRule): Rule {
  return withoutServerFields(r) as Rule;
}

export class DesiredState {
  private running: Promise<boolean> | null = null;
  private queued: Promise<boolean> | null = null;
  /** The supervisor's status after the last apply. */
  status: Status | null = null;
  /** An apply succeeded since the last (re)connect: the supervisor runs the store's rules. */
  synced = false;

  constructor(private readonly store: RuleStore, private readonly link: SupervisorLink, private readonly log: { warn(o: object, m: string): void }) {}

  /** Resolves true once an apply that started after this call has succeeded. */
  sync(): Promise<boolean> {
    if (!this.running) {
      this.running = this.applyOnce().finally(() => (this.running = null));
      return this.running;
    }
    this.queued ??= this.running.then(() => {
      this.queued = null;
      return this.sync();
    });
    return this.queued;
  }

  private async applyOnce(): Promise<boolean> {
    if (!this.link.connected) return false; // the next connect syncs
    try {
      const rules = (await this.store.list()).map(toRule);
      const r = await this.link.request<"applied">({ type: "apply", rules }, 10_000);
      this.status = r.status;
      this.synced = true;
      return true;
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "could not apply the rules now; will on reconnect");
      return false;
    }
  }

  /** On every (re)connect: import the file's rules once, then send the whole desired state. */
  async onConnect(): Promise<void> {
    this.synced = false;
    await this.importAndSync();
  }

  /** Takes the rules file's rules into the store (once per start or SIGHUP), then syncs. */
  async importAndSync(): Promise<void> {
    try {
      const hello = await this.link.request<"hello">({ type: "hello" });
      if (hello.fileRules.length) {
        await this.store.upsertMany(hello.fileRules);
        await this.link.request<"done">({ type: "imported" });
      }
      await this.sync();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "handshake with the supervisor failed");
    }
  }
}
