// Typed wrapper of unixmsg.c: JSON control messages with file descriptors (SCM_RIGHTS).
import { dlopen, FFIType as T, ptr } from "bun:ffi";
import { check, libPath } from "./lib.ts";

const { symbols: C } = dlopen(libPath(), {
  mr_socketpair: { args: [T.ptr], returns: T.i32 },
  mr_send_msg: { args: [T.i32, T.ptr, T.u32, T.ptr, T.u32], returns: T.i32 },
  mr_recv_msg: { args: [T.i32, T.ptr, T.u32, T.ptr, T.u32, T.ptr, T.i32], returns: T.i32 },
});

export const MAX_FDS_PER_MESSAGE = 250;
const RECV_CAP = 1 << 20;

export function socketPair(): [number, number] {
  const out = new Int32Array(2);
  check(C.mr_socketpair(ptr(out)), "socketpair");
  return [out[0], out[1]];
}

export function sendMessage(sock: number, body: unknown, fds: number[] = []): void {
  const buf = Buffer.from(JSON.stringify(body));
  if (buf.length > RECV_CAP) throw new Error(`control message of ${buf.length} bytes is too large`);
  const f = new Int32Array(fds);
  check(C.mr_send_msg(sock, ptr(buf), buf.length, fds.length ? ptr(f) : null, fds.length), "control message send");
}

export type Received = { body: any; fds: number[] } | "eof" | "none";

const rbuf = Buffer.alloc(RECV_CAP);
const rfds = new Int32Array(MAX_FDS_PER_MESSAGE);
const rn = new Uint32Array(1);

/** One message, "none" if nothing waits (nonblocking) or "eof" when the peer has gone. */
export function recvMessage(sock: number, nonblock: boolean): Received {
  const n = C.mr_recv_msg(sock, ptr(rbuf), RECV_CAP, ptr(rfds), MAX_FDS_PER_MESSAGE, ptr(rn), nonblock ? 1 : 0);
  if (n === -11) return "none";
  if (n === 0) return "eof";
  check(n, "control message receive");
  return { body: JSON.parse(rbuf.toString("utf8", 0, n)), fds: Array.from(rfds.subarray(0, rn[0])) };
}
