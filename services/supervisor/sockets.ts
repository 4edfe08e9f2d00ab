// The sockets only the supervisor may create: AF_PACKET fanout receive sockets, IGMP helper
// sockets, and connected egress sockets. Workers get them as fds and never create any.
import { egressSocket, helperMember, helperSocket, closeFd, localPort } from "../../c/inet.ts";
import { errnoName } from "../../c/lib.ts";
import { packetFanoutId, packetOpen, setGro, type RingGeometry } from "../../c/packet.ts";
import { formatIpv4, isMulticast } from "../../rules/ipv4.ts";
import type { PlannedOutput, PlannedRule } from "./plan.ts";
import { readTune } from "../tune.ts";

/**
 * 256 blocks of 128 KiB (32 MiB) per worker and input. A block goes to user space when full or
 * after 1 ms, which bounds the latency the ring adds. Two forces set the shape:
 * - at low rates every block holds only a few frames, so the block count decides how long ingress
 *   may be descheduled before the kernel drops (64 blocks were ~64 ms at 5,000 pps: kernel_ring_full on
 *   a loaded machine; 256 are ~0.25 s);
 * - at high rates per-block costs matter: with 32 KiB blocks (22 full-size frames) the relay spent
 *   3.5 µs per 1,400 B packet at 250k pps, with 128 KiB 2.9 µs, with 256 KiB 2.6 µs (bench:relay).
 */
const tune = readTune(); // a bad MCRELAY_TUNE_* value stops start-up here, before anything runs
export const GEOMETRY: RingGeometry = {
  version: tune.ring === "v2" ? 2 : 3, blockSize: tune.blockKiB << 10, blockCount: tune.blocks, frameSize: 2048, retireMs: 1,
};

export interface Logger {
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
}

/** One input interface: its IGMP helper socket and its fanout group. */
export class InputSockets {
  private helper = -1;
  /** "group/source" memberships held */
  private joined = new Set<string>();
  private fanoutId = -1;

  constructor(readonly ifname: string, readonly ifindex: number, log: Logger) {
    // AF_PACKET sees frames before GRO only if GRO is off (seed D31); veth has it off already.
    const rc = setGro(ifname, false);
    if (rc < 0 && rc !== -95) log.warn({ ifname, error: errnoName(rc) }, "could not turn GRO off on input");
  }

  /** A new receive socket for one worker, in this interface's fanout group. */
  open(): number {
    const fd = packetOpen(this.ifindex, GEOMETRY, this.fanoutId);
    if (this.fanoutId < 0) this.fanoutId = packetFanoutId(fd);
    return fd;
  }

  /** Joins the groups the rules need and leaves those no rule needs any more; others stay joined. */
  join(rules: PlannedRule[], log: Logger): void {
    const want = new Set(rules.filter((r) => isMulticast(r.group)).map((r) => `${r.group}/${r.source}`));
    if (this.helper < 0) this.helper = helperSocket();
    const change = (m: string, join: boolean) => {
      const [g, s] = m.split("/").map(Number);
      const rc = helperMember(this.helper, this.ifindex, g, s, join);
      if (rc < 0) log.warn({ ifname: this.ifname, group: formatIpv4(g), error: errnoName(rc) }, join ? "multicast join failed" : "multicast leave failed");
    };
    for (const m of this.joined) if (!want.has(m)) change(m, false);
    for (const m of want) if (!this.joined.has(m)) change(m, true);
    this.joined = want;
  }

  close(): void {
    if (this.helper >= 0) closeFd(this.helper);
    this.helper = -1;
    this.joined.clear();
  }
}

/** Source port per output, shared by every worker's socket for it. */
const sourcePorts = new Map<string, number>();

/** An egress socket for one worker; all workers' sockets for an output send from one source port. */
export function openEgress(o: PlannedOutput): number {
  let fd = egressSocket(o, sourcePorts.get(o.key) ?? 0);
  // The remembered port may have been taken by another program since our sockets closed.
  if (fd < 0 && sourcePorts.has(o.key)) fd = egressSocket(o, 0);
  if (fd < 0) throw new Error(`output ${o.ifname} ${formatIpv4(o.addr)}:${o.port}: ${errnoName(fd)}`);
  sourcePorts.set(o.key, localPort(fd));
  return fd;
}
