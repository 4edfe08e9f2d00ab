// What this node runs of each rule and link, written to rule_status for every API of the fleet to
// read: the revision its supervisor took (DataPlaneSync.applied) with the state its supervisor
// gives, or the revision it refused with why. Only differences are written; after a failure (the store
// unreachable) or at the first write, the node's rows are replaced whole, so rows of rules it no
// longer runs do not outlive it.
import type { Status } from "../../protocol/status.ts";
import type { Noun } from "../store/collection.ts";
import { NOUNS, type DataPlaneSync } from "../sync.ts";
import { statesIn } from "./index.ts";
import type { FleetTables } from "./tables.ts";

interface Entry {
  kind: Noun;
  id: string;
  revision: number;
  state: string;
  reason: string | null;
}

const same = (a: Entry | undefined, b: Entry) => a !== undefined && a.revision === b.revision && a.state === b.state && a.reason === b.reason;
/** An entry's key: a rule and a link may share an id. */
const key = (kind: Noun, id: string) => `${kind}\n${id}`;

export class StatusReporter {
  private reported = new Map<string, Entry>();
  private whole = true;
  private running: Promise<void> | null = null;
  private again = false;
  private timer: Timer | null = null;

  constructor(
    private readonly tables: FleetTables,
    private readonly sync: DataPlaneSync,
    private readonly status: () => Promise<Status | null>,
    private readonly log: { debug(o: object, m: string): void; warn(o: object, m: string): void },
  ) {}

  /** Something changed: report soon (changes within a few ms are written together). */
  kick(): void {
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, 10);
  }

  async flush(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.write().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
    return this.running;
  }

  private async write(): Promise<void> {
    const node = this.sync.node;
    if (node === null) return;
    const st = await this.status();
    if (!st) return; // no supervisor to ask: the rows stay as they were, and the node goes stale
    const want = new Map<string, Entry>();
    for (const kind of NOUNS) {
      const states = new Map(statesIn(st, kind).map((r) => [r.id, r]));
      for (const [id, revision] of this.sync.applied[kind]) {
        const s = states.get(id);
        const k = key(kind, id);
        if (s) want.set(k, { kind, id, revision, state: s.state, reason: s.reason ?? null });
        else if (this.reported.has(k)) want.set(k, this.reported.get(k)!); // status older than the apply: next time
      }
      for (const [id, r] of this.sync.refused[kind]) want.set(key(kind, id), { kind, id, revision: r.revision, state: "error", reason: r.reason });
    }
    const put = [...want].filter(([k, e]) => this.whole || !same(this.reported.get(k), e)).map(([, { id, ...e }]) => ({ ruleId: id, ...e }));
    const remove = this.whole ? [] : [...this.reported].filter(([k]) => !want.has(k)).map(([, e]) => ({ kind: e.kind, ruleId: e.id }));
    if (!put.length && !remove.length && !this.whole) return;
    try {
      await this.tables.report(node, put, remove, this.whole);
      this.reported = want;
      this.whole = false;
    } catch (e) {
      this.whole = true;
      this.log.debug({ err: (e as Error).message }, "could not report the rules' states; will try again");
    }
  }

  /** After the store was away: the next report replaces this node's rows whole. */
  resend(): void {
    this.whole = true;
    this.kick();
  }
}
