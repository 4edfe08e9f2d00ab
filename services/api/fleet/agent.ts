// What keeps one node of a PostgreSQL fleet in step, once its supervisor has said which node it is:
//  - a heartbeat every HEARTBEAT_MS (its row in `nodes`: version, interfaces, start), only while
//    its supervisor answers, so a node whose relay is gone turns stale, then down;
//  - LISTEN for rule changes: a change for this node (or every node) is reconciled at once;
//  - a reconcile every RECONCILE_MS in any case (a notification lost while the listening
//    connection was down, or a node that was away), and refused rules tried again every 30 s;
//  - its reports (fleet/report.ts) written after every change and retried with the heartbeat.
// The store being unreachable stops none of this from trying again; the data plane keeps
// forwarding with the rules it has meanwhile.
import { HEARTBEAT_MS, type NodeInterface } from "../../protocol/fleet.ts";
import type { SupervisorLink } from "../link.ts";
import type { DataPlaneSync, Hello } from "../sync.ts";
import { Listener } from "./listen.ts";
import type { StatusReporter } from "./report.ts";
import type { FleetTables } from "./tables.ts";

const RECONCILE_MS = 5000;
const RETRY_REFUSED_EVERY = 6; // reconciles: 30 s

interface Log {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
  debug(o: object, m: string): void;
}

export class FleetAgent {
  private self: { name: string; instance: string; startedAt: string } | null = null;
  private timers: Timer[] = [];
  private listener: Listener | null = null;
  private storeDown = false;
  private refusedName = 0;
  private ticks = 0;

  constructor(
    private readonly url: string,
    private readonly tables: FleetTables,
    private readonly sync: DataPlaneSync,
    private readonly link: SupervisorLink,
    private readonly reporter: StatusReporter,
    private readonly version: string,
    private readonly log: Log,
  ) {}

  get node(): string | null {
    return this.self?.name ?? null;
  }

  hello(h: Hello): void {
    // The instance is the supervisor's start: an API that restarts beside it is the same node.
    this.self = { name: h.node, instance: `${h.shm}@${h.startedAt}`, startedAt: h.startedAt };
    if (this.listener) return;
    this.listener = new Listener(this.url, (p) => this.notified(p), () => this.reconcile(), this.log);
    this.listener.start();
    this.timers.push(setInterval(() => void this.beat(), HEARTBEAT_MS));
    this.timers.push(setInterval(() => this.reconcile(++this.ticks % RETRY_REFUSED_EVERY === 0), RECONCILE_MS));
    void this.beat();
  }

  private notified(payload: string): void {
    const self = this.self?.name;
    if (self && payload.split(" ").some((n) => n === "*" || n === self)) this.reconcile();
  }

  private reconcile(retryRefused = false): void {
    this.sync.reconcile(retryRefused).catch((e) => this.log.debug({ err: (e as Error).message }, "reconcile failed; the next one tries again"));
  }

  private async beat(): Promise<void> {
    const self = this.self;
    if (!self || !this.link.connected) return;
    let interfaces: NodeInterface[] = [];
    try {
      interfaces = (await this.link.request<"interfaces">({ type: "interfaces" }, 1000)).interfaces.map((i) => ({ name: i.name, state: i.state, addresses: i.addresses }));
    } catch {
      return; // a supervisor that does not answer is not beating
    }
    try {
      const ok = await this.tables.beat({ ...self, version: this.version, interfaces });
      if (!ok && Date.now() - this.refusedName > 60_000) {
        this.refusedName = Date.now();
        this.log.error({ node: self.name }, "another relay beats under this node name: give each relay its own --node");
      }
      if (this.storeDown) {
        this.storeDown = false;
        this.log.info({}, "the rule store answers again");
        this.reporter.resend();
        this.reconcile();
      }
    } catch (e) {
      if (!this.storeDown) this.log.warn({ err: (e as Error).message }, "cannot beat: the rule store is unreachable; forwarding goes on with the rules in force");
      this.storeDown = true;
    }
    void this.reporter.flush();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.listener?.close();
  }
}
