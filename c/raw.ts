// Typed wrapper of raw.c: raw frames for the lab tools and tests (needs CAP_NET_RAW).
import { dlopen, FFIType as T, ptr } from "bun:ffi";
import { E, check, libPath } from "./lib.ts";

const { symbols: C } = dlopen(libPath(), {
  mr_raw_open: { args: [T.i32], returns: T.i32 },
  mr_raw_send: { args: [T.i32, T.ptr, T.u32], returns: T.i32 },
  mr_raw_recv: { args: [T.i32, T.ptr, T.u32, T.i32], returns: T.i32 },
});

export function rawOpen(ifindex: number): number {
  return check(C.mr_raw_open(ifindex), `raw socket on ifindex ${ifindex}`);
}

export function rawSend(fd: number, frame: Uint8Array): number {
  return check(C.mr_raw_send(fd, ptr(frame), frame.length), "raw send");
}

/** One received frame's length (its bytes in buf), or -1 on timeout. */
export function rawRecv(fd: number, buf: Uint8Array, timeoutMs: number): number {
  const n = C.mr_raw_recv(fd, ptr(buf), buf.length, timeoutMs);
  if (n === -E.EAGAIN) return -1;
  return check(n, "raw receive");
}
