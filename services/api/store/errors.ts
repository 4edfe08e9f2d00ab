// Store failures that are not the request's fault, with what the operator needs to know.

/** The store cannot be written: its disk is full, or the database refuses writes. Says where (507). */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
}

/** The database cannot be reached at all (PostgreSQL down, unreachable, or not answering in time).
 *  Not a full disk: it is answered 503, and says which server. Forwarding is not affected. */
export class StoreUnreachableError extends Error {
  override readonly name = "StoreUnreachableError";
}
