// The AF_PACKET receive ring of every input socket.
import { K } from "../../c/kernel.ts";
import type { RingGeometry } from "../../c/packet.ts";
import { readTune } from "../tune.ts";

const tune = readTune(); // a bad MCRELAY_TUNE_* value stops start-up before this is read

/**
 * A rules input: a TPACKET_V2 ring of 256 blocks of 128 KiB (32 MiB) per worker, whose frames
 * are as big as the interface's MTU needs. V2 hands every frame to user space at once, and ingress
 * decides itself how long to let frames gather (services/ingress/moderation.ts): per frame at low
 * rates, a batch at high rates. The V3 ring it replaced handed over a block when full or after its
 * retire timer (1 ms, the smallest the kernel takes): ~0.6 ms added p50 at 20k pps
 * (docs/PERFORMANCE.md). `MCRELAY_TUNE_RING=v3` still gives that ring.
 * Two forces set the size:
 * - the frame count decides how long ingress may be descheduled before the kernel drops
 *   (16,000-odd 1,500-byte frames: 55 ms at 300k pps, 0.8 s at 20k pps);
 * - V3 at high rates: per-block costs favour big blocks: with 32 KiB blocks (22 full-size frames)
 *   the relay spent 3.5 µs per 1,400 B packet at 250k pps, with 128 KiB 2.9 µs, with 256 KiB 2.6 µs.
 */
export function inputGeometry(mtu: number): RingGeometry {
  const blockSize = tune.blockKiB << 10;
  if (tune.ring === "v3") return { version: 3, blockSize, blockCount: tune.blocks, frameSize: 2048, retireMs: 1 };
  return { version: 2, blockSize, blockCount: tune.blocks, frameSize: v2FrameSize(mtu, blockSize), retireMs: 1 };
}

/** A V2 frame holding a whole frame of an interface with this MTU (GRO is off on inputs, so none
 *  is bigger): the ring's header and address before it, 16-byte aligned; at least 2 KiB (a
 *  standard slot's payload). A block holds at least one. */
export function v2FrameSize(mtu: number, blockSize: number): number {
  const need = K.TP2_FRAME_OVERHEAD + Math.max(mtu, 0);
  return Math.min(Math.max(2048, Math.ceil(need / 16) * 16), blockSize);
}

/** A link's ends: always V3 (its frames vary up to a 64 KiB super-frame, which a block of at
 *  least 128 KiB holds whole). */
export const LINK_GEOMETRY: RingGeometry = { version: 3, blockSize: Math.max(tune.blockKiB << 10, 128 << 10), blockCount: tune.blocks, frameSize: 2048, retireMs: 1 };
