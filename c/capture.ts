// Typed wrapper of capture.c: an interface's frames, both ways, for `mcrelay capture` (opening
// needs CAP_NET_RAW: the supervisor opens, the capture process reads).
import { dlopen, FFIType as T, ptr } from "bun:ffi";
import { E, check, libPath } from "./lib.ts";

const { symbols: C } = dlopen(libPath(), {
  mr_capture_open: { args: [T.i32], returns: T.i32 },
  mr_capture_recv: { args: [T.i32, T.ptr, T.u32, T.ptr], returns: T.i32 },
});

export function captureOpen(ifindex: number): number {
  return check(C.mr_capture_open(ifindex), `capture socket on ifindex ${ifindex}`);
}

/** What mr_capture_recv says of a frame, besides its bytes. */
export const M = { wireLen: 0, outgoing: 1, sec: 2, nsec: 3, vlan: 4 } as const;

/** One frame's captured length (bytes in buf, meta filled as M says), or -1 when none is queued. */
export function captureRecv(fd: number, buf: Uint8Array, meta: Int32Array): number {
  const n = C.mr_capture_recv(fd, ptr(buf), buf.length, ptr(meta));
  if (n === -E.EAGAIN) return -1;
  return check(n, "capture receive");
}
