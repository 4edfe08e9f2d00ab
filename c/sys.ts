// Typed wrapper of sys.c: shared memory, futex, poll, slot copy, privilege drop, clock (scheduling: sched.ts).
import { dlopen, FFIType as T, ptr, toArrayBuffer, type Pointer } from "bun:ffi";
import { E, check, cstr, libPath } from "./lib.ts";

const { symbols: C } = dlopen(libPath(), {
  mr_shm_create: { args: [T.ptr, T.u64], returns: T.i32 },
  mr_shm_open: { args: [T.ptr, T.i32], returns: T.i32 },
  mr_shm_unlink: { args: [T.ptr], returns: T.i32 },
  mr_shm_map: { args: [T.i32, T.u64, T.i32], returns: T.ptr },
  mr_futex_wait: { args: [T.ptr, T.u32, T.i64], returns: T.i32 },
  mr_futex_wake: { args: [T.ptr, T.i32], returns: T.i32 },
  mr_poll: { args: [T.ptr, T.ptr, T.u32, T.i32], returns: T.i32 },
  mr_poll_us: { args: [T.ptr, T.ptr, T.u32, T.i64], returns: T.i32 },
  mr_copy: { args: [T.ptr, T.ptr, T.u32], returns: T.void },
  mr_copy_sum: { args: [T.ptr, T.ptr, T.u32], returns: T.u32 },
  mr_drop_privileges: { args: [T.u32, T.u32], returns: T.i32 },
  mr_monotonic_ns: { args: [], returns: T.i64 },
  mr_realtime: { args: [T.ptr], returns: T.void },
  mr_timer_slack: { args: [T.u64], returns: T.i32 },
  mr_set_dumpable: { args: [T.i32], returns: T.i32 },
  mr_alloc: { args: [T.u64], returns: T.ptr },
  mr_free: { args: [T.ptr], returns: T.void },
});

/** Creates /dev/shm/<name> (0600, must not exist) of len bytes; returns its fd. */
export function shmCreate(name: string, len: number): number {
  return check(C.mr_shm_create(cstr("/" + name), len), `shm_open /dev/shm/${name}`);
}

export function shmOpen(name: string, writable: boolean): number {
  return check(C.mr_shm_open(cstr("/" + name), writable ? 1 : 0), `shm_open /dev/shm/${name}`);
}

/** Removes /dev/shm/<name>; false when it was already gone. */
export function shmUnlink(name: string): boolean {
  const rc = C.mr_shm_unlink(cstr("/" + name));
  if (rc === -E.ENOENT) return false;
  check(rc, `shm_unlink /dev/shm/${name}`);
  return true;
}

/** A mapping: its address (for C and futexes) and an ArrayBuffer over it (for TypeScript). */
export interface Mapping {
  addr: number;
  buf: ArrayBuffer;
}

export function shmMap(fd: number, len: number, writable: boolean): Mapping {
  const p = C.mr_shm_map(fd, len, writable ? 1 : 0);
  if (!p) throw new Error(`mmap of shared memory (fd ${fd}, ${len} bytes) failed`);
  return { addr: p as unknown as number, buf: toArrayBuffer(p, 0, len) };
}

/** Sleeps while the u32 at addr equals expected, at most timeoutUs. Being woken, timing out, the
 *  word having changed already and a signal are all outcomes, not errors: nothing to report. */
export function futexWait(addr: number, expected: number, timeoutUs: number): void {
  const rc = C.mr_futex_wait(addr as unknown as Pointer, expected, timeoutUs);
  if (rc < 0 && rc !== -E.ETIMEDOUT && rc !== -E.EAGAIN && rc !== -E.EINTR) check(rc, "futex wait");
}

/** Wakes one waiter on addr; how many were woken. */
export function futexWake(addr: number): number {
  return check(C.mr_futex_wake(addr as unknown as Pointer, 1), "futex wake");
}

/** A reusable poll set over fixed fds. */
export class PollSet {
  readonly fds: Int32Array;
  readonly revents: Int32Array;
  private readonly fdsPtr: Pointer;
  private readonly reventsPtr: Pointer;
  constructor(fds: number[]) {
    this.fds = new Int32Array(fds);
    this.revents = new Int32Array(fds.length);
    this.fdsPtr = ptr(this.fds);
    this.reventsPtr = ptr(this.revents);
  }
  /** How many fds are ready (0 on timeout or a signal); their revents are in `revents`. */
  wait(timeoutMs: number): number {
    const rc = C.mr_poll(this.fdsPtr, this.reventsPtr, this.fds.length, timeoutMs);
    if (rc === -E.EINTR) return 0;
    return check(rc, "poll");
  }
  /** wait() with the timeout in µs. */
  waitUs(timeoutUs: number): number {
    const rc = C.mr_poll_us(this.fdsPtr, this.reventsPtr, this.fds.length, timeoutUs);
    if (rc === -E.EINTR) return 0;
    return check(rc, "ppoll");
  }
}

/** memcpy(dst, src, len) between raw addresses (ring frame -> pool slot). */
export function copy(dst: number, src: number, len: number): void {
  C.mr_copy(dst as unknown as Pointer, src as unknown as Pointer, len);
}

/** copy(), returning the copied bytes' ones'-complement sum (16-bit big-endian words, folded). */
export function copySum(dst: number, src: number, len: number): number {
  return C.mr_copy_sum(dst as unknown as Pointer, src as unknown as Pointer, len);
}

export function dropPrivileges(uid: number, gid: number): void {
  check(C.mr_drop_privileges(uid, gid), "dropping privileges");
}

export function monotonicNs(): number {
  return Number(C.mr_monotonic_ns());
}

/** CLOCK_REALTIME, the clock of AF_PACKET frame stamps: read() puts it in now[0] (seconds) and
 *  now[1] (nanoseconds), with no allocation (nanoseconds since 1970 do not fit a double exactly). */
export class RealtimeClock {
  readonly now = new Uint32Array(2);
  private readonly at = ptr(this.now);
  read(): void {
    C.mr_realtime(this.at);
  }
  /** ns from (sec, nsec) to the time last read */
  since(sec: number, nsec: number): number {
    return (this.now[0] - sec) * 1e9 + (this.now[1] - nsec);
  }
}

/** The calling thread's timer slack: how late the kernel may end its timed sleeps (default 50 µs). */
export function setTimerSlack(ns: number): void {
  check(C.mr_timer_slack(ns), "PR_SET_TIMERSLACK");
}

/** PR_SET_DUMPABLE: false keeps other processes of the same user from ptracing this one. */
export function setDumpable(on: boolean): void {
  check(C.mr_set_dumpable(on ? 1 : 0), "PR_SET_DUMPABLE");
}

/** len bytes that stay where they are (C reads them later at `addr`); free with freeStable. */
export function allocStable(len: number): Mapping {
  const p = C.mr_alloc(len);
  if (!p) throw new Error(`out of memory (${len} bytes)`);
  return { addr: p as unknown as number, buf: toArrayBuffer(p, 0, len) };
}

export function freeStable(m: Mapping): void {
  C.mr_free(m.addr as unknown as Pointer);
}
