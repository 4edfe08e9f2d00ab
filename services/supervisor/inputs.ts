// The input interfaces: per interface, one AF_PACKET socket per worker pair, all in one
// PACKET_FANOUT_HASH group, and its multicast memberships. The supervisor keeps every socket
// after handing it to its ingress: when that ingress dies, the socket (with its ring and the
// frames waiting in it) goes to the replacement, which continues where its predecessor stopped.
import { closeFd } from "../../c/inet.ts";
import { ErrnoError } from "../../c/lib.ts";
import { setOffload } from "../../c/ethtool.ts";
import { LINK_END, packetFanoutId, packetOpen, type RingGeometry } from "../../c/packet.ts";
import { MAX_INPUTS } from "../../shm/layout.ts";
import { Memberships } from "./joins.ts";

export interface Logger {
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
}

export class InputSockets {
  private fanoutId = -1;
  /** pair index -> its socket (ours; the pair's ingress has its own copy of the fd) */
  private readonly sockets = new Map<number, number>();
  readonly joins: Memberships;

  /** link: the interface is a link's end (every frame, promiscuously, each after a virtio_net_hdr);
   *  pair: the one pair that reads it (a redundant rule's input), whose socket is then a fanout group
   *  of one; shared: every pair reads it whole, each socket a fanout group of one (every input not
   *  pinned, with MCRELAY_TUNE_SPLIT=on: configure.ts, sharedInputs) */
  constructor(readonly ifname: string, readonly ifindex: number, readonly slot: number, readonly geometry: RingGeometry, log: Logger, readonly link = false,
    readonly pair?: number, readonly shared = false) {
    // AF_PACKET sees frames before GRO only if GRO is off (seed D31); veth has it off already.
    try {
      setOffload(ifname, "gro", false);
    } catch (e) {
      if (!(e instanceof ErrnoError && e.code === "EOPNOTSUPP")) log.warn({ ifname, err: (e as Error).message }, "could not turn GRO off on input");
    }
    this.joins = new Memberships(ifname, ifindex);
  }

  /** The pair's socket: an existing one (resume: its ring may hold frames) or a new one. */
  socketFor(pair: number): { fd: number; fresh: boolean } {
    const have = this.sockets.get(pair);
    if (have !== undefined) return { fd: have, fresh: false };
    const fd = packetOpen(this.ifindex, this.geometry, this.shared ? -1 : this.fanoutId, this.link ? LINK_END : {});
    if (this.fanoutId < 0 && !this.shared) this.fanoutId = packetFanoutId(fd);
    this.sockets.set(pair, fd);
    return { fd, fresh: true };
  }

  close(): void {
    for (const fd of this.sockets.values()) closeFd(fd);
    this.sockets.clear();
    this.joins.close();
  }
}

/** Progress-record slots (shm/layout.ts PROGRESS) for inputs: one per interface, unique in a pair. */
export class InputSlots {
  private readonly used = new Set<number>();

  take(): number {
    for (let i = 0; i < MAX_INPUTS; i++) {
      if (!this.used.has(i)) {
        this.used.add(i);
        return i;
      }
    }
    throw new Error(`more than ${MAX_INPUTS} input interfaces`);
  }

  give(slot: number): void {
    this.used.delete(slot);
  }
}
