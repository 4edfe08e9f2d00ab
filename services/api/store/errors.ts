// Store failures that are not the request's fault, with what the operator needs to know.

/** The store cannot be written: its disk is full, or the database refuses writes. Says where. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
}
