// Serves the control socket the API connects to. Only the relay user can open it (0600).
import { chmodSync, chownSync, rmSync } from "node:fs";
import type { Socket, UnixSocketListener } from "bun";
import type { Reply, Request, Response } from "../protocol/control.ts";

export type Handler = (req: Request) => Promise<Reply>;

export function serveControl(path: string, owner: { uid: number; gid: number }, handle: Handler, onError: (e: unknown) => void): UnixSocketListener<{ buf: string }> {
  rmSync(path, { force: true });
  const reply = (s: Socket<{ buf: string }>, r: Response) => s.write(JSON.stringify(r) + "\n");
  const server = Bun.listen<{ buf: string }>({
    unix: path,
    socket: {
      open(s) {
        s.data = { buf: "" };
      },
      data(s, chunk) {
        s.data.buf += chunk.toString();
        for (let nl = s.data.buf.indexOf("\n"); nl >= 0; nl = s.data.buf.indexOf("\n")) {
          const line = s.data.buf.slice(0, nl);
          s.data.buf = s.data.buf.slice(nl + 1);
          let req: Request;
          try {
            req = JSON.parse(line);
          } catch {
            reply(s, { id: -1, ok: false, error: "malformed request" });
            continue;
          }
          handle(req).then(
            (r) => reply(s, { ...r, id: req.id } as Response),
            (e) => {
              onError(e);
              reply(s, { id: req.id, ok: false, error: (e as Error).message });
            },
          );
        }
      },
    },
  });
  chmodSync(path, 0o600);
  chownSync(path, owner.uid, owner.gid);
  return server;
}
