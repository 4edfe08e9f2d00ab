// Typed wrapper of unixmsg.c: JSON control messages with file descriptors (SCM_RIGHTS).
import { dlopen, FFIType as T, ptr } from "bun:ffi";
import { E, check, libPath } from "./lib.ts";

const { symbols: C } = dlopen(libPath(), {
  mr_socketpair: { args: [T.ptr], returns: T.i32 },
  mr_send_msg: { args: [T.i32, T.ptr, T.u32, T.ptr, T.u32, T.i32], returns: T.i32 },
  mr_recv_msg: { args: [T.i32, T.ptr, T.u32, T.ptr, T.u32, T.ptr, T.i32], returns: T.i32 },
  mr_max_fds: { args: [], returns: T.i32 },
  mr_peer_cred: { args: [T.i32, T.ptr], returns: T.i32 },
});

/** The most fds one message can carry (unixmsg.c's buffer). */
export const MAX_FDS_PER_MESSAGE: number = C.mr_max_fds();
const RECV_CAP = 1 << 20;

export function socketPair(): [number, number] {
  const out = new Int32Array(2);
  check(C.mr_socketpair(ptr(out)), "socketpair");
  return [out[0], out[1]];
}

/** Sends one message with its fds (they stay open here). nonblock: false instead of waiting
 *  when the peer's queue is full. */
export function sendMessage(sock: number, body: unknown, fds: number[] = [], nonblock = false): boolean {
  const buf = Buffer.from(JSON.stringify(body));
  if (buf.length > RECV_CAP) throw new Error(`control message of ${buf.length} bytes is too large`);
  const f = new Int32Array(fds);
  const rc = C.mr_send_msg(sock, ptr(buf), buf.length, fds.length ? ptr(f) : null, fds.length, nonblock ? 1 : 0);
  if (rc === -E.EAGAIN && nonblock) return false;
  if (rc === -E.EPIPE || rc === -E.ECONNRESET) throw new PeerGoneError();
  check(rc, "control message send");
  return true;
}

/** The other end of the channel has gone (its process exited). */
export class PeerGoneError extends Error {
  constructor() {
    super("the peer has gone");
  }
}

export type Received = { body: any; fds: number[] } | "eof" | "none";

const rbuf = Buffer.alloc(RECV_CAP);
const rfds = new Int32Array(MAX_FDS_PER_MESSAGE);
const rn = new Uint32Array(1);

/** One message, "none" if nothing waits (nonblocking) or "eof" when the peer has gone. */
export function recvMessage(sock: number, nonblock: boolean): Received {
  const n = C.mr_recv_msg(sock, ptr(rbuf), RECV_CAP, ptr(rfds), MAX_FDS_PER_MESSAGE, ptr(rn), nonblock ? 1 : 0);
  if (n === -E.EAGAIN) return "none";
  // A peer that was killed resets the connection instead of closing it: gone all the same.
  if (n === 0 || n === -E.ECONNRESET) return "eof";
  check(n, "control message receive");
  return { body: JSON.parse(rbuf.toString("utf8", 0, n)), fds: Array.from(rfds.subarray(0, rn[0])) };
}

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

const credOut = new Int32Array(3);
/** The process at the other end of a connected Unix socket (SO_PEERCRED). */
export function peerCred(fd: number): PeerCred {
  check(C.mr_peer_cred(fd, ptr(credOut)), "SO_PEERCRED");
  return { pid: credOut[0], uid: credOut[1] >>> 0, gid: credOut[2] >>> 0 };
}
