// One error shape for every rejected request: what went wrong, and which field.
import { z } from "@hono/zod-openapi";
import type { z as zod } from "zod";

export const issueSchema = z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string() });
export const errorSchema = z.object({ error: z.string(), issues: z.array(issueSchema) }).openapi("Error");
export type ApiError = z.infer<typeof errorSchema>;

/** zod issues -> {path, message}; an unknown key becomes an issue at that key's own path. */
export function fieldIssues(issues: readonly zod.core.$ZodIssue[]): ApiError["issues"] {
  return issues.flatMap((i) => {
    const path = i.path.map((p) => (typeof p === "number" ? p : String(p)));
    if (i.code === "unrecognized_keys") return i.keys.map((k) => ({ path: [...path, k], message: `unknown key "${k}"` }));
    return [{ path, message: i.message }];
  });
}

export const error = (message: string, issues: ApiError["issues"] = []): ApiError => ({ error: message, issues });
