// Store failures: a clash with what is stored (the request's fault, 409), a store that cannot be
// written (not the request's fault, 507) and one that cannot be reached (503), each with what the
// caller needs to know.

/** The store cannot be written: its disk is full, or the database refuses writes. Says where (507). */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
}

/** The database cannot be reached at all (PostgreSQL down, unreachable, or not answering in time).
 *  Not a full disk: it is answered 503, and says which server. Forwarding is not affected. */
export class StoreUnreachableError extends Error {
  override readonly name = "StoreUnreachableError";
}

/** Another rule or link already has this id or name, or takes what this one needs (a rule's
 *  input, an interface) on a node both run on. `path` is the field of the request to blame. */
export class ConflictError extends Error {
  override readonly name = "ConflictError";
  constructor(
    readonly field: "id" | "name" | "input" | "a" | "b",
    readonly otherId: string,
    message: string,
    readonly path: (string | number)[] = [field],
  ) {
    super(message);
  }
}
