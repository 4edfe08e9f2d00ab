// Egress sockets: one connected UDP socket per output and worker, opened here (workers cannot)
// and handed over. Every worker's socket for an output sends from one source port, shared with
// SO_REUSEPORT, so receivers see one sender per output however many workers run.
import { egressSocket, localPort } from "../../c/inet.ts";
import { ErrnoError } from "../../c/lib.ts";
import type { PlannedOutput } from "./plan.ts";

export class EgressSockets {
  /** output key -> the source port its sockets share */
  private readonly ports = new Map<string, number>();

  /** A new socket for one worker. Throws ErrnoError when the output cannot be opened. */
  open(o: PlannedOutput): number {
    const port = this.ports.get(o.key);
    let fd: number;
    try {
      fd = egressSocket(o, port ?? 0);
    } catch (e) {
      // The remembered port may have been taken by another program since our sockets closed.
      if (!(port !== undefined && e instanceof ErrnoError && e.code === "EADDRINUSE")) throw e;
      fd = egressSocket(o, 0);
    }
    this.ports.set(o.key, localPort(fd));
    return fd;
  }

  /** Forgets the ports of outputs no worker sends on any more. */
  keepOnly(keys: Set<string>): void {
    for (const k of this.ports.keys()) if (!keys.has(k)) this.ports.delete(k);
  }
}
