// Typed wrapper of packet_tx.c: AF_PACKET send sockets for raw egress.
import { dlopen, FFIType as T } from "bun:ffi";
import { check, libPath } from "./lib.ts";

const { symbols: C } = dlopen(libPath(), {
  mr_packet_tx_open: { args: [T.i32, T.i32, T.i32, T.i32], returns: T.i32 },
});

/** A packet socket that sends frames out of ifindex (needs CAP_NET_RAW; the workers get it ready-made). */
export function packetTxOpen(ifindex: number, opts: { sndbuf?: number; qdiscBypass?: boolean; vnetHdr?: boolean } = {}): number {
  return check(C.mr_packet_tx_open(ifindex, opts.sndbuf ?? 16 << 20, opts.qdiscBypass ? 1 : 0, opts.vnetHdr ? 1 : 0), `AF_PACKET send socket on ifindex ${ifindex}`);
}
