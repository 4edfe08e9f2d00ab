// The REST API: Hono with routes declared once, for validation and for the OpenAPI document.
// This file puts it together: error answers, request spans, the bearer token, the routes
// (routes/), the dashboard and the reference documentation.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Tracer } from "@opentelemetry/api";
import { HTTPException } from "hono/http-exception";
import { mountDashboard } from "./dashboard/index.ts";
import { docsAsset, docsPage } from "./docs.ts";
import { error, fieldIssues } from "./errors.ts";
import { bearer } from "./http/bearer.ts";
import { requestSpans } from "./http/spans.ts";
import { mountCapture, type CaptureDeps } from "./routes/capture.ts";
import { mountLinks } from "./routes/links.ts";
import { mountRelay, type RelayDeps } from "./routes/relay.ts";
import { mountNodes, type NodesDeps } from "./routes/nodes.ts";
import { mountRules, type RulesDeps } from "./routes/rules.ts";
import { StoreUnavailableError, StoreUnreachableError } from "./store/index.ts";

export interface ApiDeps extends RulesDeps, RelayDeps, NodesDeps, CaptureDeps {
  token: string;
  tracer: Tracer;
}

export const API_INFO = {
  title: "mcrelay API", version: "1",
  description: "Rules, links, interfaces and counters of an mcrelay multicast relay, and the nodes of its fleet.",
  license: { name: "Proprietary", identifier: "LicenseRef-mcrelay" },
};

export function buildApp(d: ApiDeps) {
  const app = new OpenAPIHono({
    defaultHook: (r, c) => {
      if (!r.success) return c.json(error("invalid request", fieldIssues(r.error.issues)), 422);
    },
  });

  app.onError((e, c) => {
    if (e instanceof HTTPException && e.res) return e.getResponse(); // bearerAuth's answers, in our shape
    if (e instanceof HTTPException && e.status === 400) return c.json(error(e.message.includes("JSON") ? "malformed JSON" : e.message), 400);
    if (e instanceof HTTPException) return c.json(error(e.message), e.status);
    // The disk under the store is full, or the database refuses writes: not the request's fault.
    if (e instanceof StoreUnavailableError) return c.json(error(e.message), 507);
    // The database cannot be reached at all: the store is away, not full. Forwarding goes on.
    if (e instanceof StoreUnreachableError) return c.json(error(e.message), 503);
    return c.json(error(`internal error: ${(e as Error).message}`), 500);
  });

  // Before the bearer middleware: /api/v1/events also takes ?token= (EventSource sends no headers).
  mountDashboard(app, d);
  app.use("*", requestSpans(d.tracer));
  app.use("/api/*", bearer(d.token));
  app.use("/metrics", bearer(d.token));
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });

  mountRules(app, d);
  mountLinks(app, d);
  mountNodes(app, d);
  mountRelay(app, d);
  mountCapture(app, d);

  // The server is "/": the relay that serves this document, wherever it is reached from (a host
  // name, a Unix socket, a reverse proxy), so the document is the same for every client.
  app.doc31("/openapi.json", { openapi: "3.1.0", info: API_INFO, servers: [{ url: "/", description: "the relay that serves this document" }] });
  app.get("/docs", (c) => c.html(docsPage("/openapi.json")));
  app.get("/docs/assets/:file", (c) => docsAsset(c.req.param("file")) ?? c.json(error("not found"), 404));
  return app;
}
