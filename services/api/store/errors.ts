// Store failures: a clash with what is stored (the request's fault, 409), and a store that cannot
// be written (not the request's fault, 507), each with what the caller needs to know.

/** The store cannot be written: its disk is full, or the database refuses writes. Says where. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
}

/** Another rule or link already has this id or name, or takes what this one needs (a rule's
 *  input, an interface). `path` is the field of the request to blame. */
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
