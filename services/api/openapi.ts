// What every route's OpenAPI description shares: JSON bodies, the error shape, the id parameter.
import { z } from "@hono/zod-openapi";
import { errorSchema } from "./errors.ts";

export const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });

/** The answers any authenticated route can give besides its own. */
export const authErrors = {
  400: json(errorSchema, "malformed JSON, or an Authorization header that is not `Bearer <token>`"),
  401: json(errorSchema, "missing or wrong bearer token"),
};

/** A route with a JSON body. */
export const bodyErrors = {
  ...authErrors,
  422: json(errorSchema, "a field is invalid; `issues` names each one. Nothing was stored"),
};

/** A route that reads the store: PostgreSQL may be unreachable (the data plane forwards on meanwhile). */
export const storeUnreachable = json(errorSchema, "the rule store (PostgreSQL) cannot be reached; the error names it");

export const secured = { security: [{ bearer: [] }] };
export const open = { security: [] };

export const idParam = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" }, example: "feed-a" }) });
