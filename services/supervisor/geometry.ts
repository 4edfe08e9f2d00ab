// The AF_PACKET receive ring of every input socket.
import type { RingGeometry } from "../../c/packet.ts";
import { readTune } from "../tune.ts";

/**
 * 256 blocks of 128 KiB (32 MiB) per worker and input. A block goes to user space when full or
 * after 1 ms, which bounds the latency the ring adds. Two forces set the shape:
 * - at low rates every block holds only a few frames, so the block count decides how long ingress
 *   may be descheduled before the kernel drops (64 blocks were ~64 ms at 5,000 pps: kernel_ring_full
 *   on a loaded machine; 256 are ~0.25 s);
 * - at high rates per-block costs matter: with 32 KiB blocks (22 full-size frames) the relay spent
 *   3.5 µs per 1,400 B packet at 250k pps, with 128 KiB 2.9 µs, with 256 KiB 2.6 µs (bench:relay).
 */
const tune = readTune(); // a bad MCRELAY_TUNE_* value stops start-up before this is read
export const GEOMETRY: RingGeometry = {
  version: tune.ring === "v2" ? 2 : 3, blockSize: tune.blockKiB << 10, blockCount: tune.blocks, frameSize: 2048, retireMs: 1,
};

/** A link's ends: always V3 (its frames vary up to a 64 KiB super-frame, which a block of at
 *  least 128 KiB holds whole); otherwise the same ring. */
export const LINK_GEOMETRY: RingGeometry = { ...GEOMETRY, version: 3, blockSize: Math.max(GEOMETRY.blockSize, 128 << 10) };
