// Typed wrapper of uring.c: batched io_uring sends with eager completion reaping.
import { dlopen, FFIType as T, ptr, type Pointer } from "bun:ffi";
import { check, libPath } from "./lib.ts";

const { symbols: C } = dlopen(libPath(), {
  mr_uring_new: { args: [T.u32, T.u32, T.u32], returns: T.ptr },
  mr_uring_free: { args: [T.ptr], returns: T.void },
  mr_uring_send: { args: [T.ptr, T.i32, T.ptr, T.u32, T.u64], returns: T.i32 },
  mr_uring_send_tos: { args: [T.ptr, T.i32, T.ptr, T.u32, T.i32, T.i32, T.u64], returns: T.i32 },
  mr_uring_send_raw: { args: [T.ptr, T.i32, T.ptr, T.ptr, T.u32, T.u32, T.u32, T.u64], returns: T.i32 },
  mr_uring_send_gso: { args: [T.ptr, T.i32, T.ptr, T.ptr, T.u32, T.u32, T.u32, T.u32, T.u64], returns: T.i32 },
  mr_uring_flush: { args: [T.ptr, T.ptr, T.u32, T.u32], returns: T.i32 },
  mr_uring_files: { args: [T.ptr, T.u32], returns: T.i32 },
  mr_uring_file: { args: [T.ptr, T.i32, T.i32], returns: T.i32 },
  mr_rawtmpl_size: { args: [], returns: T.i32 },
  mr_uring_gso_max: { args: [], returns: T.i32 },
  mr_rawtmpl_offsets: { args: [T.ptr], returns: T.i32 },
});

/** io_uring_setup flags (linux/io_uring.h). */
export const SETUP_SINGLE_ISSUER = 1 << 12;
export const SETUP_DEFER_TASKRUN = 1 << 13;

/** A send's user data: what comes back with its completion (`tag` up to 2^20). */
export const userData = (slot: number, tag: number) => slot + tag * 4294967296;

/** The raw-send template struct of uring.c (struct mr_rawtmpl): its size and field offsets. */
export const RAW_TEMPLATE = (() => {
  const o = new Int32Array(4);
  C.mr_rawtmpl_offsets(ptr(o));
  return { size: C.mr_rawtmpl_size(), ipId: o[0], ipSum: o[1], udpSum: o[2], flags: o[3], CSUM: 1, TOS: 2, V6: 4 } as const;
})();

/** The most datagrams one GSO send carries (MR_GSO_MAX, read from uring.c). */
export const GSO_MAX = C.mr_uring_gso_max();

/** "The payload's sum is not known": uring.c computes it when a checksum needs it. */
export const NO_SUM = 0xffffffff;

export class Uring {
  readonly handle: Pointer;
  /** Completions as {slot, res, tag} triples, filled by flush(). */
  readonly completions: Int32Array;
  private readonly completionsPtr: Pointer;

  /** entries: submission queue size; cqEntries: completion queue size (keep in-flight requests below it). */
  constructor(entries: number, readonly cqEntries: number, flags = 0) {
    const h = C.mr_uring_new(entries, cqEntries, flags);
    if (!h) throw new Error(`io_uring_queue_init(${entries}, cq ${cqEntries}) failed`);
    this.handle = h as Pointer;
    this.completions = new Int32Array(entries * 12);
    this.completionsPtr = ptr(this.completions);
  }

  /** Queues a send of len bytes at address buf on connected socket fd. 0 or -errno (EBUSY: full). */
  send(fd: number, buf: number, len: number, data: number): number {
    return C.mr_uring_send(this.handle, fd, buf as unknown as Pointer, len, data);
  }

  /** Like send, with the packet's IP TOS byte (DSCP << 2 | ECN) set; v6: an AF_INET6 socket, the
   *  byte is its traffic class. */
  sendTos(fd: number, buf: number, len: number, tos: number, v6: boolean, data: number): number {
    return C.mr_uring_send_tos(this.handle, fd, buf as unknown as Pointer, len, tos, v6 ? 1 : 0, data);
  }

  /** Queues a frame on packet socket fd: the output's header template (at address tmpl, see
   *  RAW_TEMPLATE) completed for this payload, and the payload, gathered. 0 or -errno. */
  sendRaw(fd: number, tmpl: number, buf: number, len: number, tos: number, payloadSum: number, data: number): number {
    return C.mr_uring_send_raw(this.handle, fd, tmpl as unknown as Pointer, buf as unknown as Pointer, len, tos, payloadSum, data);
  }

  /** Where the payloads of the next sendGso go: their addresses, GSO_MAX at most. */
  readonly gsoAddrs = new Float64Array(GSO_MAX);
  private readonly gsoAddrsPtr = ptr(this.gsoAddrs);

  /** Queues gsoAddrs[0..k) (each len bytes) to a GSO output's packet socket fd as one UDP GSO
   *  super-frame (k = 1: a plain frame; payloadSum is used then only). One completion. 0 or -errno. */
  sendGso(fd: number, tmpl: number, k: number, len: number, tos: number, payloadSum: number, data: number): number {
    return C.mr_uring_send_gso(this.handle, fd, tmpl as unknown as Pointer, this.gsoAddrsPtr, k, len, tos, payloadSum, data);
  }

  /** A registered-file table of n slots; afterwards sockets registered with file() are sent on as fixed files. */
  files(n: number): void {
    check(C.mr_uring_files(this.handle, n), "io_uring_register_files_sparse");
  }

  /** Registers socket fd (in slot fd) or, with on = false, unregisters it. 0 or -errno. */
  file(fd: number, on: boolean): number {
    return C.mr_uring_file(this.handle, fd, on ? 1 : 0);
  }

  /** Submits everything queued and returns how many completions were copied into `completions`. */
  flush(waitFor = 0): number {
    return check(C.mr_uring_flush(this.handle, this.completionsPtr, this.completions.length / 3, waitFor), "io_uring submit");
  }

  close(): void {
    C.mr_uring_free(this.handle);
  }
}
