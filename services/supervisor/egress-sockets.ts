// Egress sockets, opened here (workers cannot) and handed over. A socket output: one connected
// UDP socket per output and worker (a raw IP socket for a rule of another protocol); every worker's socket for an output sends from one source
// port, shared with SO_REUSEPORT, so receivers see one sender per output however many workers
// run. A raw output: the workers send frames on a packet socket of the interface (one per
// interface and worker, shared by its raw outputs); its source port is held here by a UDP socket
// that is never sent on, so no other program on this host takes it. A GSO output (`gso: true`)
// has a packet socket of its own per interface and worker, whose frames begin with a virtio_net_hdr.
import { closeFd, egressSocket, localPort, rawIpSocket } from "../../c/inet.ts";
import { ErrnoError } from "../../c/lib.ts";
import { packetTxOpen } from "../../c/packet_tx.ts";
import { ipValue } from "../../rules/ip.ts";
import { UDP } from "../../rules/protocols.ts";
import { readTune } from "../tune.ts";
import type { PlannedOutput } from "./plan.ts";

const TUNE = readTune();

/** The key of the socket a worker sends the output on. */
export function socketKey(o: PlannedOutput): string {
  // A GSO output's frames carry a virtio_net_hdr: a packet socket of its own (PACKET_VNET_HDR).
  return o.raw ? `raw:${o.ifname}#${o.ifindex}${o.gso ? ":gso" : ""}` : o.key;
}

export class EgressSockets {
  /** output key -> the source port its sockets share */
  private readonly ports = new Map<string, number>();
  /** raw output key -> the UDP socket that holds its source port */
  private readonly held = new Map<string, number>();

  /** A new socket for one worker (for a raw output, its interface's). Throws (ErrnoError when the
   *  kernel refuses) when the output cannot be opened. */
  open(o: PlannedOutput): number {
    if (o.protocol !== UDP) return rawIpSocket({ ...o, addr: ipValue(o.addr) }, o.protocol); // no port to share
    if (!o.raw) return this.udp(o);
    this.sourcePort(o);
    return packetTxOpen(o.ifindex, { qdiscBypass: TUNE.qdiscBypass, vnetHdr: o.gso });
  }

  /** The source port of a raw output, held from now on. */
  sourcePort(o: PlannedOutput): number {
    if (!o.mac) throw new Error(`${o.ifname} is not an Ethernet interface: send "raw" builds Ethernet frames (use "socket")`);
    if (!o.src) throw new Error(`${o.ifname} has no IPv${o.family} address: send "raw" needs one as the frames' source (use "socket")`);
    if (!this.held.has(o.key)) this.held.set(o.key, this.udp(o));
    return this.ports.get(o.key)!;
  }

  private udp(o: PlannedOutput): number {
    const port = this.ports.get(o.key);
    const spec = { ...o, addr: ipValue(o.addr) };
    let fd: number;
    try {
      fd = egressSocket(spec, port ?? 0);
    } catch (e) {
      // The remembered port may have been taken by another program since our sockets closed.
      if (!(port !== undefined && e instanceof ErrnoError && e.code === "EADDRINUSE")) throw e;
      fd = egressSocket(spec, 0);
    }
    this.ports.set(o.key, localPort(fd));
    return fd;
  }

  /** Forgets the ports of outputs (by output key) no worker sends on any more. */
  keepOnly(keys: Set<string>): void {
    for (const k of this.ports.keys()) if (!keys.has(k)) this.ports.delete(k);
    for (const [k, fd] of this.held) {
      if (keys.has(k)) continue;
      closeFd(fd);
      this.held.delete(k);
    }
  }

  close(): void {
    this.keepOnly(new Set());
  }
}
