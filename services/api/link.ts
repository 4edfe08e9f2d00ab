// The API's connection to the supervisor's control socket: framed requests and replies
// (protocol/frame.ts), reconnecting on its own. It keeps the supervisor's last status: the
// supervisor says when it changed (an event), and the status is fetched again only then, once,
// however many requests want it — so 50 clients on /metrics cost the supervisor nothing.
import type { Socket } from "bun";
import { FrameError, FrameReader, FrameWriter } from "../protocol/frame.ts";
import type { Reply, RequestBody, Response, StatusEvent } from "../protocol/control.ts";
import type { Status } from "../protocol/status.ts";

type OkReply = Extract<Reply, { ok: true }>;
type Pending = { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: Timer };

/** A reply that says no: the supervisor's reason, and the rules and fields it names. */
export class RefusedError extends Error {
  constructor(readonly reply: Extract<Reply, { ok: false }>) {
    super(reply.error);
  }
}

export class SupervisorLink {
  private sock: Socket<undefined> | null = null;
  private reader = new FrameReader();
  private writer: FrameWriter | null = null;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private closed = false;
  /** the status as last fetched, and whether the supervisor said it changed since */
  private status: Status | null = null;
  private stale = true;
  private fetching: Promise<Status | null> | null = null;
  /** counts fetches begun and invalidations: a fetch that is not the latest leaves the cache alone */
  private fetches = 0;
  onConnect: () => void = () => {};
  onStatusChange: () => void = () => {};

  constructor(private readonly path: string, private readonly log: { warn(o: object, m: string): void; info(o: object, m: string): void }) {}

  get connected(): boolean {
    return this.sock !== null;
  }

  start(): void {
    void this.connect();
  }

  private async connect(): Promise<void> {
    while (!this.closed && !this.sock) {
      try {
        const sock = await Bun.connect({
          unix: this.path,
          socket: {
            data: (_s, chunk) => this.receive(chunk),
            drain: () => void this.writer?.drain(),
            close: () => this.lost(),
            error: () => this.lost(),
          },
        });
        this.sock = sock;
        this.writer = new FrameWriter(sock);
        this.reader = new FrameReader();
        this.stale = true;
        this.log.info({ socket: this.path }, "connected to the supervisor");
        this.onConnect();
      } catch {
        await Bun.sleep(250);
      }
    }
  }

  private lost(): void {
    if (!this.sock) return;
    this.sock = null;
    this.writer = null;
    this.status = null;
    this.stale = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("the supervisor went away"));
    }
    this.pending.clear();
    if (!this.closed) {
      this.log.warn({}, "lost the supervisor; reconnecting");
      void this.connect();
    }
  }

  private receive(chunk: Uint8Array): void {
    let msgs: unknown[];
    try {
      msgs = this.reader.push(chunk);
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      this.log.warn({ err: e.message }, "unreadable frame from the supervisor; reconnecting");
      this.sock?.end();
      return;
    }
    for (const m of msgs) {
      const r = m as Response | StatusEvent;
      if (r.id === 0) {
        this.stale = true;
        this.onStatusChange();
        continue;
      }
      const p = this.pending.get(r.id);
      if (!p) continue;
      this.pending.delete(r.id);
      clearTimeout(p.timer);
      if ((r as Response).ok) p.resolve(r as Reply);
      else p.reject(new RefusedError(r as Extract<Reply, { ok: false }>));
    }
  }

  request<T extends OkReply["type"]>(body: RequestBody, timeoutMs = 5000): Promise<Extract<OkReply, { type: T }>> {
    if (!this.sock || !this.writer) return Promise.reject(new Error("not connected to the supervisor"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the supervisor did not answer "${body.type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (r: Reply) => void, reject, timer });
      this.writer!.send({ ...body, id });
    });
  }

  /** The status is fetched again on the next read (a change was just applied): a fetch already
   *  on its way may have left before the change, so it is not joined. */
  invalidate(): void {
    this.stale = true;
    this.fetching = null;
    this.fetches++;
  }

  /** The supervisor's status: the last one, unless it changed since (then fetched once). */
  async currentStatus(): Promise<Status | null> {
    if (!this.connected) return null;
    if (!this.stale && this.status) return this.status;
    if (this.fetching) return this.fetching;
    const mine = ++this.fetches;
    this.fetching = (async () => {
      try {
        this.stale = false; // a change announced while we fetch makes it stale again
        const st = (await this.request<"status">({ type: "status" }, 5000)).status;
        if (mine === this.fetches) this.status = st;
        return st;
      } catch {
        this.stale = true;
        if (mine === this.fetches) this.status = null;
        return null;
      } finally {
        if (mine === this.fetches) this.fetching = null;
      }
    })();
    return this.fetching;
  }

  close(): void {
    this.closed = true;
    this.sock?.end();
  }
}
