// The bearer token on every route but /healthz, /openapi.json and /docs: Hono's bearerAuth, with
// our error shape and a constant-time comparison (token.ts).
import { bearerAuth } from "hono/bearer-auth";
import { error } from "../errors.ts";
import { tokenMatches } from "../token.ts";

export function bearer(token: string) {
  return bearerAuth({
    realm: "mcrelay",
    verifyToken: async (given) => tokenMatches(given, token),
    noAuthenticationHeader: { message: error("unauthorized: send Authorization: Bearer <token>") },
    invalidAuthenticationHeader: { message: error("the Authorization header must be `Bearer <token>`") },
    invalidToken: { message: error("unauthorized: wrong token") },
  });
}
