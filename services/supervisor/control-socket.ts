// Serves the control socket the API connects to: 0600, owned by the relay user, and each peer is
// checked by SO_PEERCRED (the relay user alone could otherwise be any worker, or any other
// process that runs as that user). Framed and back-pressured (protocol/frame.ts): a peer that does
// not read its replies is not read from until it does, so nothing piles up without bound.
import { chmodSync, chownSync, rmSync } from "node:fs";
import type { Socket } from "bun";
import { peerCred, type PeerCred } from "../../c/unixmsg.ts";
import { FrameReader, FrameWriter } from "../protocol/frame.ts";
import type { Reply, Request, Response, StatusEvent } from "../protocol/control.ts";

export type Handler = (req: Request) => Promise<Reply>;

/** Replies waiting this long in a peer's queue stop us reading its requests. */
const PAUSE_BYTES = 16 << 20;

interface Conn {
  reader: FrameReader;
  writer: FrameWriter;
  paused: boolean;
  peer: PeerCred;
}

export interface ControlLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}

export class ControlServer {
  private readonly conns = new Set<Socket<Conn>>();
  private readonly server: ReturnType<typeof Bun.listen<Conn>>;

  /** allow: why a peer is refused, or null to serve it. */
  constructor(path: string, owner: { uid: number; gid: number }, allow: (peer: PeerCred) => string | null, handle: Handler, log: ControlLog) {
    rmSync(path, { force: true });
    const reply = (s: Socket<Conn>, r: Response) => {
      s.data.writer.send(r);
      if (!s.data.paused && s.data.writer.pending > PAUSE_BYTES) {
        s.data.paused = true;
        s.pause(); // the peer reads slowly: no more requests from it until its replies are out
      }
    };
    this.server = Bun.listen<Conn>({
      unix: path,
      socket: {
        open: (s) => {
          const peer = peerCred((s as unknown as { fd: number }).fd); // Bun has it; its types do not say so
          const why = allow(peer);
          if (why) {
            log.warn({ pid: peer.pid, uid: peer.uid }, `control socket: refused a peer: ${why}`);
            s.terminate();
            return;
          }
          s.data = { reader: new FrameReader(), writer: new FrameWriter(s), paused: false, peer };
          this.conns.add(s);
        },
        data: (s, chunk) => {
          if (!s.data) return;
          let reqs: unknown[];
          try {
            reqs = s.data.reader.push(chunk);
          } catch (e) {
            log.warn({ pid: s.data.peer.pid, err: (e as Error).message }, "control socket: unreadable frame; closing the connection");
            s.end();
            return;
          }
          for (const raw of reqs) {
            const req = raw as Request;
            if (typeof req !== "object" || req === null || typeof req.id !== "number" || typeof req.type !== "string") {
              reply(s, { id: -1, ok: false, error: "malformed request: it needs a numeric id and a type" });
              continue;
            }
            handle(req).then(
              (r) => reply(s, { ...r, id: req.id } as Response),
              (e) => {
                log.error({ type: req.type, err: String(e) }, "control request failed");
                reply(s, { id: req.id, ok: false, error: (e as Error).message });
              },
            );
          }
        },
        drain: (s) => {
          if (!s.data) return;
          if (s.data.writer.drain() && s.data.paused) {
            s.data.paused = false;
            s.resume();
          }
        },
        close: (s) => void this.conns.delete(s),
        error: (s) => void this.conns.delete(s),
      },
    });
    chmodSync(path, 0o600);
    chownSync(path, owner.uid, owner.gid);
  }

  /** Tells every connected peer something happened (id 0: not an answer). */
  broadcast(ev: StatusEvent): void {
    for (const s of this.conns) s.data.writer.send(ev);
  }

  stop(): void {
    for (const s of this.conns) s.terminate();
    this.conns.clear();
    this.server.stop(true);
  }
}
