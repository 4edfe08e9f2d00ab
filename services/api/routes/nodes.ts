// /api/v1/nodes: the fleet — every relay that shares this store, from its heartbeats, with how
// many of its rules are in each state. With SQLite, this relay alone. A node that is down can be
// forgotten (its reports go; rules for it stay, pending until a node of that name returns).
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { nodeSchema } from "../../protocol/fleet.ts";
import { error, errorSchema } from "../errors.ts";
import type { Fleet } from "../fleet/index.ts";
import { authErrors, json, secured, storeUnreachable } from "../openapi.ts";

export interface NodesDeps {
  fleet: Fleet;
}

const nameParam = z.object({ name: z.string().openapi({ param: { name: "name", in: "path" }, example: "relay-b" }) });

export function mountNodes(app: OpenAPIHono, d: NodesDeps): void {
  app.openapi(createRoute({ method: "get", path: "/api/v1/nodes", operationId: "listNodes", summary: "The relays of the fleet and their state", ...secured,
    responses: { 200: json(z.object({ nodes: z.array(nodeSchema) }), "every node that registered, by name"), ...authErrors, 503: storeUnreachable } }),
    async (c) => c.json({ nodes: await d.fleet.nodes() }, 200));

  app.openapi(createRoute({ method: "delete", path: "/api/v1/nodes/{name}", operationId: "forgetNode", summary: "Forget a node that is down", ...secured,
    request: { params: nameParam },
    responses: { 204: { description: "forgotten, with its reports" }, ...authErrors, 404: json(errorSchema, "no such node"),
      409: json(errorSchema, "the node is not down (up or stale): it would register again"), 503: storeUnreachable } }),
    async (c) => {
      const name = c.req.valid("param").name;
      const r = await d.fleet.forget(name);
      if (r === "unknown") return c.json(error(`no node ${name}`), 404);
      if (r === "not down") return c.json(error(`node ${name} is not down: only a node that is down can be forgotten`), 409);
      return c.body(null, 204);
    });
}
