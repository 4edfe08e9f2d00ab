// Where the C library is, and the small conversions every wrapper shares.
// Only the c/*.ts wrappers import bun:ffi; everything else calls them.
import { existsSync } from "node:fs";
import { join } from "node:path";

export const LIB_PATH = join(import.meta.dir, "build", "libmcrelay.so");

export function libPath(): string {
  if (!existsSync(LIB_PATH)) {
    throw new Error(`${LIB_PATH} is missing: build it with \`make -C c\` (or run \`make setup\`)`);
  }
  return LIB_PATH;
}

/** A NUL-terminated copy of s for a `const char *` argument. */
export function cstr(s: string): Buffer {
  return Buffer.from(s + "\0");
}

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 4: "EINTR", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES",
  16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 24: "EMFILE", 90: "EMSGSIZE",
  93: "EPROTONOSUPPORT", 95: "EOPNOTSUPP", 98: "EADDRINUSE", 99: "EADDRNOTAVAIL",
  100: "ENETDOWN", 101: "ENETUNREACH", 105: "ENOBUFS", 110: "ETIMEDOUT", 113: "EHOSTUNREACH",
};

export function errnoName(negErrno: number): string {
  const e = -negErrno;
  return ERRNO_NAMES[e] ?? `errno ${e}`;
}

/** Throws a readable error for a negative C return value; passes non-negative values through. */
export function check(rc: number, what: string): number {
  if (rc < 0) {
    const err = new Error(`${what}: ${errnoName(rc)}`) as Error & { errno: number };
    err.errno = -rc;
    throw err;
  }
  return rc;
}
