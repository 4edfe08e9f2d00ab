// Failures the CLI reports itself: usage (exit 2), and everything else it can explain (exit 1).

export class UsageError extends Error {}

/** A failure with a message fit for the user; exit code 1. */
export class CliError extends Error {}

export interface Issue {
  path: (string | number)[];
  message: string;
}

/** ["outputs", 0, "ttl"] -> "outputs[0].ttl" (the notation of rules/load.ts messages). */
export function fieldPath(path: readonly (string | number)[]): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("").replace(/^\./, "") || "(body)";
}

/** A non-2xx answer of the API, with its field messages. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly issues: Issue[],
    /** what the user may check, e.g. where the token came from */
    readonly hint?: string,
  ) {
    super(error);
  }

  /** "error: invalid request\n  outputs[0].ttl: ttl must be 1–255" */
  describe(context?: string): string {
    const lines = [`error: ${context ? `${context}: ` : ""}${this.error}`];
    for (const i of this.issues) lines.push(`  ${fieldPath(i.path)}: ${i.message}`);
    if (this.hint) lines.push(`  (${this.hint})`);
    return lines.join("\n");
  }
}

export function describeError(e: CliError, context?: string): string {
  return e instanceof ApiError ? e.describe(context) : `error: ${context ? `${context}: ` : ""}${e.message}`;
}
