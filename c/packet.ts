// Typed wrapper of packet.c: AF_PACKET TPACKET_V3/V2 receive sockets.
import { dlopen, FFIType as T, ptr, toArrayBuffer, type Pointer } from "bun:ffi";
import type { Mapping } from "./sys.ts";
import { K } from "./kernel.ts";
import { check, libPath } from "./lib.ts";

const { symbols: C } = dlopen(libPath(), {
  mr_packet_open: { args: [T.i32, T.i32, T.u32, T.u32, T.u32, T.u32, T.i32, T.i32, T.i32], returns: T.i32 },
  mr_packet_fanout_id: { args: [T.i32], returns: T.i32 },
  mr_packet_map: { args: [T.i32, T.u64], returns: T.ptr },
  mr_unmap: { args: [T.ptr, T.u64], returns: T.i32 },
  mr_packet_stats: { args: [T.i32, T.ptr], returns: T.i32 },
  mr_packet_take_copy: { args: [T.i32, T.ptr, T.u32, T.ptr, T.u32], returns: T.i32 },
});

/** PACKET_FANOUT_HASH: one flow (addresses and ports) always lands on the same worker. */
export const FANOUT_HASH = 0;

export interface RingGeometry {
  /** 3: blocks of variable-size frames, handed over full or after retireMs; 2: fixed frames, each at once. */
  version: 2 | 3;
  blockSize: number;
  blockCount: number;
  frameSize: number;
  retireMs: number;
}

/** How a link's end is read: every frame (promiscuous), each after a virtio_net_hdr (VNET_HDR_BYTES). */
export const LINK_END = { vnetHdr: true, promisc: true } as const;
/** struct virtio_net_hdr (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset): its size from the headers (c/kernel.c). */
export const VNET_HDR_BYTES = K.VNET_HDR_SIZE;

/** Opens, rings and binds an AF_PACKET socket on ifindex and joins fanoutId (or a new group if < 0). */
export function packetOpen(ifindex: number, g: RingGeometry, fanoutId: number, o: { vnetHdr?: boolean; promisc?: boolean } = {}): number {
  return check(
    C.mr_packet_open(g.version, ifindex, g.blockSize, g.blockCount, g.frameSize, g.retireMs, fanoutId, FANOUT_HASH, (o.vnetHdr ? 1 : 0) | (o.promisc ? 2 : 0)),
    `AF_PACKET socket on ifindex ${ifindex}`,
  );
}

export function packetFanoutId(fd: number): number {
  return check(C.mr_packet_fanout_id(fd), "PACKET_FANOUT id");
}

export function packetMap(fd: number, len: number): Mapping {
  const p = C.mr_packet_map(fd, len);
  if (!p) throw new Error(`mmap of the AF_PACKET ring (fd ${fd}, ${len} bytes) failed`);
  return { addr: p as unknown as number, buf: toArrayBuffer(p, 0, len) };
}

export function unmap(m: Mapping, len: number): void {
  check(C.mr_unmap(m.addr as unknown as Pointer, len), "munmap");
}

const statsOut = new Uint32Array(3);
/** Kernel receive counters since the last call: the kernel resets them on every read. */
export function packetStats(fd: number): { packets: number; drops: number; freezes: number } {
  check(C.mr_packet_stats(fd, ptr(statsOut)), "PACKET_STATISTICS");
  return { packets: statsOut[0], drops: statsOut[1], freezes: statsOut[2] };
}

/**
 * The whole of a V2 ring frame cut to the frame size (TP_STATUS_COPY, a link end's super-frame):
 * copied with its virtio_net_hdr to `dst` (cap 0: thrown away). `head` is the frame's first
 * bytes in the ring, which the queued one must start with. Returns its length (more than cap:
 * cut), or -errno: EAGAIN none queued, ESTALE the queued one is a later frame's (left queued).
 * No allocation: an address in, a number out.
 */
export function packetTakeCopy(fd: number, dst: number, cap: number, head: number, headLen: number): number {
  return C.mr_packet_take_copy(fd, dst as unknown as Pointer, cap, head as unknown as Pointer, headLen);
}
