// The API's connection to the supervisor's control socket. It reconnects on its own; whoever
// needs to know (the desired-state sync) is told on every (re)connect.
import type { Socket } from "bun";
import type { Reply, RequestBody, Response } from "../protocol/control.ts";

type OkReply = Extract<Reply, { ok: true }>;
type Pending = { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: Timer };

export class SupervisorLink {
  private sock: Socket<undefined> | null = null;
  private buf = "";
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private closed = false;
  onConnect: () => void = () => {};

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
        this.sock = await Bun.connect({
          unix: this.path,
          socket: {
            data: (_s, chunk) => this.receive(chunk.toString()),
            close: () => this.lost(),
            error: () => this.lost(),
          },
        });
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
    this.buf = "";
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

  private receive(text: string): void {
    this.buf += text;
    for (let nl = this.buf.indexOf("\n"); nl >= 0; nl = this.buf.indexOf("\n")) {
      const r = JSON.parse(this.buf.slice(0, nl)) as Response;
      this.buf = this.buf.slice(nl + 1);
      const p = this.pending.get(r.id);
      if (!p) continue;
      this.pending.delete(r.id);
      clearTimeout(p.timer);
      if (r.ok) p.resolve(r as Reply);
      else p.reject(new Error(r.error));
    }
  }

  request<T extends OkReply["type"]>(body: RequestBody, timeoutMs = 5000): Promise<Extract<OkReply, { type: T }>> {
    if (!this.sock) return Promise.reject(new Error("not connected to the supervisor"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the supervisor did not answer "${body.type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (r: Reply) => void, reject, timer });
      this.sock!.write(JSON.stringify({ ...body, id }) + "\n");
    });
  }

  close(): void {
    this.closed = true;
    this.sock?.end();
  }
}
