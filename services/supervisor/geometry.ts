// The AF_PACKET receive ring of every input socket.
import type { RingGeometry } from "../../c/packet.ts";
import { readTune } from "../tune.ts";

/**
 * A rules input: a TPACKET_V2 ring of 256 blocks of 128 KiB (32 MiB) per worker. V2 hands every
 * frame to user space at once, and ingress decides itself how long to let frames gather
 * (services/ingress/moderation.ts): per frame at low rates, a batch at high rates. The V3 ring it
 * replaced (issue 17) handed over a block when full or after its retire timer (1 ms, the smallest
 * the kernel takes): ~0.6 ms added p50 at 20k pps (docs/PERFORMANCE.md). `MCRELAY_TUNE_RING=v3`
 * still gives that ring. Two forces set the size:
 * - the frame count decides how long ingress may be descheduled before the kernel drops
 *   (16,384 2 KiB frames: 55 ms at 300k pps, 0.8 s at 20k pps);
 * - V3 at high rates: per-block costs favour big blocks: with 32 KiB blocks (22 full-size frames)
 *   the relay spent 3.5 µs per 1,400 B packet at 250k pps, with 128 KiB 2.9 µs, with 256 KiB 2.6 µs.
 */
const tune = readTune(); // a bad MCRELAY_TUNE_* value stops start-up before this is read
export const GEOMETRY: RingGeometry = {
  version: tune.ring === "v2" ? 2 : 3, blockSize: tune.blockKiB << 10, blockCount: tune.blocks, frameSize: 2048, retireMs: 1,
};

/**
 * A link end's ring for its interface's MTU: the rules' ring. On V2 a GSO super-frame (up to 64
 * KiB) is cut to the ring's frame, and the kernel queues it whole on the socket besides
 * (PACKET_COPY_THRESH, c/packet.c), where ingress takes it: frames of the wire still go one by
 * one, at once. (The V3 ring links had held their frames in 1 ms blocks: a round trip over an
 * idle link took 0.6–1.8 ms, against 0.15–0.3 ms now: docs/PERFORMANCE.md.) On V3, blocks of
 * at least 128 KiB hold a super-frame whole.
 */
export function linkGeometry(mtu: number): RingGeometry {
  return GEOMETRY.version === 3 ? { ...GEOMETRY, blockSize: Math.max(GEOMETRY.blockSize, 128 << 10) } : inputGeometry(GEOMETRY, mtu);
}

/** What TPACKET_V2 puts before a frame in its slot: its header and sockaddr_ll, aligned (the
 *  frame starts at byte 66), with room for an in-frame VLAN tag and alignment after it. */
const V2_OVERHEAD = 96;

/**
 * An input's ring for its interface's MTU. V3 frames vary in size up to a block (128 KiB): any
 * MTU fits. V2 frames are fixed: 2 KiB, or bigger for a jumbo MTU (9,000 bytes: 9,120-byte
 * frames, 14 to a 128 KiB block), so a jumbo frame arrives whole instead of cut (oversize).
 */
export function inputGeometry(base: RingGeometry, mtu: number): RingGeometry {
  if (base.version !== 2) return base;
  const frameSize = Math.max(base.frameSize, Math.ceil((mtu + 14 + V2_OVERHEAD) / 16) * 16);
  return frameSize === base.frameSize ? base : { ...base, frameSize, blockSize: Math.max(base.blockSize, Math.ceil(frameSize / 4096) * 4096) };
}
