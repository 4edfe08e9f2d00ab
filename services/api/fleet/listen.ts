// LISTEN on the rules' channel (drizzle/pg/0002_rules_notify.sql: a trigger NOTIFYs on every
// committed change, its payload the nodes concerned). A connection of its own, outside the pool
// (a pooled one would be handed to queries and lose its LISTEN); when it is lost it connects again,
// backing off to 2 s, and says so with onConnect: notifications sent meanwhile are gone, so the
// caller reconciles in full.
import pg from "pg";

export const RULES_CHANNEL = "mcrelay_rules";

export class Listener {
  private client: pg.Client | null = null;
  private closed = false;
  private connecting = false;

  constructor(
    private readonly url: string,
    private readonly onNotify: (payload: string) => void,
    private readonly onConnect: () => void,
    private readonly log: { info(o: object, m: string): void; warn(o: object, m: string): void },
  ) {}

  get listening(): boolean {
    return this.client !== null;
  }

  start(): void {
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.connecting) return;
    this.connecting = true;
    let backoff = 100;
    let said = false;
    while (!this.closed) {
      const c = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 2000, keepAlive: true });
      c.on("error", () => this.lost(c));
      c.on("end", () => this.lost(c));
      c.on("notification", (m) => m.channel === RULES_CHANNEL && this.onNotify(m.payload ?? ""));
      try {
        await c.connect();
        await c.query(`LISTEN ${RULES_CHANNEL}`);
        this.client = c;
        this.connecting = false;
        if (said) this.log.info({}, "listening for rule changes again");
        this.onConnect();
        return;
      } catch (e) {
        if (!said) this.log.warn({ err: (e as Error).message }, "cannot listen for rule changes; trying again");
        said = true;
        c.end().catch(() => {});
        await Bun.sleep(backoff);
        backoff = Math.min(2000, backoff * 2);
      }
    }
    this.connecting = false;
  }

  private lost(c: pg.Client): void {
    if (this.client !== c) return;
    this.client = null;
    c.end().catch(() => {});
    if (this.closed) return;
    this.log.warn({}, "lost the connection that listens for rule changes; reconnecting");
    void this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => {});
  }
}
