// Typed wrapper of kernel.c: the offsets and numbers of kernel structs, read from the C headers
// once at load (offsetof), so TypeScript that walks an AF_PACKET ring names every field it reads.
import { dlopen, FFIType as T, ptr } from "bun:ffi";
import { libPath } from "./lib.ts";

const { symbols: C } = dlopen(libPath(), {
  mr_kernel_layout: { args: [T.ptr, T.u32], returns: T.i32 },
});

/** The names of kernel.c's table, in its order. */
const NAMES = [
  "BLOCK_STATUS", "BLOCK_NUM_PKTS", "BLOCK_FIRST_PKT", "BLOCK_SEQ",
  "TP3_NEXT_OFFSET", "TP3_SNAPLEN", "TP3_LEN", "TP3_STATUS", "TP3_MAC", "TP3_PKTTYPE", "TP3_VLAN_TCI", "TP3_VLAN_TPID",
  "TP2_STATUS", "TP2_LEN", "TP2_SNAPLEN", "TP2_MAC", "TP2_PKTTYPE", "TP2_VLAN_TCI", "TP2_VLAN_TPID",
  "TP_STATUS_KERNEL", "TP_STATUS_USER", "TP_STATUS_CSUMNOTREADY", "TP_STATUS_VLAN_VALID", "TP_STATUS_CSUM_VALID", "TP_STATUS_VLAN_TPID_VALID",
  "PACKET_HOST", "PACKET_BROADCAST", "PACKET_MULTICAST", "PACKET_OTHERHOST", "PACKET_OUTGOING",
  "IOV_MAX",
  "TP2_SEC", "TP2_NSEC", "TP3_SEC", "TP3_NSEC",
  "TP_STATUS_COPY",
  "VNET_HDR_SIZE",
] as const;

function load(): Record<(typeof NAMES)[number], number> {
  const out = new Int32Array(NAMES.length);
  const n = C.mr_kernel_layout(ptr(out), out.length);
  if (n !== NAMES.length) throw new Error(`c/kernel.c has ${n} entries, c/kernel.ts names ${NAMES.length}: rebuild the C library (make -C c)`);
  return Object.fromEntries(NAMES.map((k, i) => [k, out[i]])) as Record<(typeof NAMES)[number], number>;
}

/**
 * Offsets (bytes) into an AF_PACKET ring's blocks and frames, status bits and packet types:
 * - BLOCK_*: a TPACKET_V3 block descriptor (status, frame count, first frame, sequence number);
 * - TP3_*, TP2_*: a frame's header; *_PKTTYPE is sockaddr_ll.sll_pkttype after it;
 * - TP_STATUS_*, PACKET_*: values of tp_status bits and sll_pkttype;
 * - TP2_SEC/NSEC, TP3_SEC/NSEC: the kernel's receive time of the frame (CLOCK_REALTIME);
 * - TP_STATUS_COPY: a V2 frame cut to the ring's frame size, whose whole waits on the socket;
 * - VNET_HDR_SIZE: sizeof(struct virtio_net_hdr), before each frame of a link end's socket.
 */
export const K = load();
