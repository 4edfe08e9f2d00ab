// Where the C library is, and the conventions every wrapper shares. Only the c/*.ts wrappers
// import bun:ffi; everything else calls them.
//
// Errors: a C entry point returns -errno on failure. Its wrapper throws an ErrnoError (the call,
// the errno's name from os.constants.errno and its text) — except for outcomes a caller expects
// and branches on (EAGAIN from a non-blocking read, a timeout), which wrappers return as values.
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { getSystemErrorMessage, getSystemErrorName } from "node:util";

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

/** errno numbers by name (EAGAIN, ENOBUFS, …): compare `rc === -E.EAGAIN`, never a bare number. */
export const E = constants.errno;

/** "EACCES", or "errno 1234" for a number the platform does not name. */
export function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-Math.abs(errno));
  } catch {
    return `errno ${Math.abs(errno)}`;
  }
}

/** A failed system call: `code` is the errno's name, as Node's own errors have it. */
export class ErrnoError extends Error {
  readonly code: string;
  constructor(readonly call: string, readonly errno: number) {
    let text = "";
    try {
      text = ` (${getSystemErrorMessage(-errno)})`;
    } catch {}
    super(`${call}: ${errnoName(errno)}${text}`);
    this.code = errnoName(errno);
  }
}

/** Throws an ErrnoError for a negative C return value; passes non-negative values through. */
export function check(rc: number, call: string): number {
  if (rc < 0) throw new ErrnoError(call, -rc);
  return rc;
}
