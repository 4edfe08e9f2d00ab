// The REST API: Hono with routes declared once for validation and for the OpenAPI document.
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { SpanKind, SpanStatusCode, type Span, type Tracer } from "@opentelemetry/api";
import { HTTPException } from "hono/http-exception";
import { rulePatchSchema, ruleSchema, type Rule } from "../../rules/schema.ts";
import { ruleViewSchema } from "../protocol/rules.ts";
import { statsSchema, type StatsBody } from "../protocol/stats.ts";
import type { InterfaceInfo } from "../protocol/control.ts";
import type { Status } from "../protocol/status.ts";
import { toRule } from "./desired.ts";
import { error, errorSchema, fieldIssues } from "./errors.ts";
import { ConflictError, type RuleStore, type StoredRule } from "./store/index.ts";
import { tokenMatches } from "./token.ts";
import { docsAsset, docsPage } from "./docs.ts";
import { mountDashboard } from "./dashboard/index.ts";

export interface ApiDeps {
  store: RuleStore;
  token: string;
  tracer: Tracer;
  /** Prometheus text of the current counters */
  metrics(): Promise<{ contentType: string; body: string }>;
  logLevel(): string;
  setLogLevel(level: string): Promise<void>;
  /** persists nothing; resolves true once the supervisor runs the store's rules */
  sync(): Promise<boolean>;
  status(): Promise<Status | null>;
  /** the supervisor has applied the store's rules since the API (re)connected */
  synced(): boolean;
  interfaces(): Promise<InterfaceInfo[] | null>;
  /** counters and rates of the data plane, or null before its segment can be read */
  stats(): Promise<StatsBody | null>;
}

const storedRule = ruleViewSchema;

const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const errors = {
  400: json(errorSchema, "malformed JSON"),
  401: json(errorSchema, "missing or wrong bearer token"),
  422: json(errorSchema, "a field is invalid; `issues` names each one"),
};
const idParam = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" }, example: "feed-a" }) });

export function buildApp(d: ApiDeps) {
  const app = new OpenAPIHono({
    defaultHook: (r, c) => {
      if (!r.success) return c.json(error("invalid request", fieldIssues(r.error.issues)), 422);
    },
  });

  app.onError((e, c) => {
    if (e instanceof HTTPException && e.status === 400) return c.json(error(e.message.includes("JSON") ? "malformed JSON" : e.message), 400);
    if (e instanceof HTTPException) return c.json(error(e.message), e.status);
    return c.json(error(`internal error: ${(e as Error).message}`), 500);
  });

  // Before the bearer middleware: /api/v1/events also takes ?token= (EventSource sends no headers).
  mountDashboard(app, d);

  // Every request is a span (exported when OTLP is configured); rule changes name their rule.
  // The span rides on the request's own context (no async context manager is needed).
  const spans = new WeakMap<Request, Span>();
  app.use("*", async (c, next) => {
    const span = d.tracer.startSpan(`${c.req.method} ${c.req.path.replace(/^\/api\/v1\/rules\/[^/]+$/, "/api/v1/rules/{id}")}`, {
      kind: SpanKind.SERVER, attributes: { "http.request.method": c.req.method, "url.path": c.req.path },
    });
    spans.set(c.req.raw, span);
    try {
      await next();
      span.setAttribute("http.response.status_code", c.res.status);
      if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    } finally {
      span.end();
    }
  });
  const tagRule = (c: { req: { raw: Request } }, id: string) => spans.get(c.req.raw)?.setAttribute("mcrelay.rule.id", id);

  const auth = async (c: any, next: () => Promise<void>) => {
    const h = c.req.header("authorization") ?? "";
    const m = /^Bearer (.+)$/.exec(h);
    if (!m || !tokenMatches(m[1], d.token)) {
      c.header("WWW-Authenticate", 'Bearer realm="mcrelay"');
      return c.json(error("unauthorized: send Authorization: Bearer <token>"), 401);
    }
    await next();
  };
  app.use("/api/*", auth);
  app.use("/metrics", auth);
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  const secured = { security: [{ bearer: [] }] };

  /** A stored rule as clients see it: with its state in the data plane. */
  async function present(rules: StoredRule[]): Promise<z.infer<typeof storedRule>[]> {
    const st = await d.status();
    return rules.map((r) => {
      const s = st?.rules.find((x) => x.id === r.id);
      return { ...r, state: s?.state ?? "unknown", ...(s?.reason ? { reason: s.reason } : {}) };
    });
  }

  const conflict = (e: ConflictError) => error("conflict", [{ path: [e.field], message: e.message }]);

  app.openapi(createRoute({ method: "get", path: "/healthz", responses: { 200: json(z.object({ status: z.string() }), "supervisor and workers ready"), 503: json(z.object({ status: z.string() }), "not ready") } }),
    async (c) => {
      const st = await d.status();
      if (st?.state === "ready" && d.synced()) return c.json({ status: "ready" }, 200);
      return c.json({ status: !st ? "supervisor unreachable" : st.state !== "ready" ? st.state : "applying rules" }, 503);
    });

  app.openapi(createRoute({ method: "get", path: "/api/v1/rules", ...secured, responses: { 200: json(z.object({ rules: z.array(storedRule) }), "all rules"), 401: errors[401] } }),
    async (c) => c.json({ rules: await present(await d.store.list()) }, 200));

  app.openapi(createRoute({ method: "post", path: "/api/v1/rules", ...secured,
    request: { body: { content: { "application/json": { schema: ruleSchema } }, required: true } },
    responses: { 201: json(storedRule, "stored, then applied"), ...errors, 409: json(errorSchema, "same id, name or input as another rule") } }),
    async (c) => {
      // Refuse what the relay could not apply, before anything is stored.
      const max = (await d.status())?.maxRules;
      if (max !== undefined && (await d.store.list()).length >= max) {
        return c.json(error("too many rules", [{ path: [], message: `the relay holds at most ${max} rules (--max-rules)` }]), 422);
      }
      let stored: StoredRule;
      try {
        stored = await d.store.create(c.req.valid("json") as Rule);
      } catch (e) {
        if (e instanceof ConflictError) return c.json(conflict(e), 409);
        throw e;
      }
      tagRule(c, stored.id);
      await d.sync();
      c.header("Location", `/api/v1/rules/${encodeURIComponent(stored.id)}`);
      return c.json((await present([stored]))[0], 201);
    });

  app.openapi(createRoute({ method: "get", path: "/api/v1/rules/{id}", ...secured, request: { params: idParam },
    responses: { 200: json(storedRule, "the rule"), 401: errors[401], 404: json(errorSchema, "no such rule") } }),
    async (c) => {
      const r = await d.store.get(c.req.valid("param").id);
      return r ? c.json((await present([r]))[0], 200) : c.json(error("no such rule"), 404);
    });

  const replace = async (id: string, rule: Rule) => {
    if (rule.id !== undefined && rule.id !== id) return { status: 422 as const, body: error("invalid request", [{ path: ["id"], message: "id in the body differs from the id in the path" }]) };
    try {
      const r = await d.store.replace(id, rule);
      if (!r) return { status: 404 as const, body: error("no such rule") };
      await d.sync();
      return { status: 200 as const, body: (await present([r]))[0] };
    } catch (e) {
      if (e instanceof ConflictError) return { status: 409 as const, body: conflict(e) };
      throw e;
    }
  };
  const changed = { 200: json(storedRule, "stored, then applied"), ...errors, 404: json(errorSchema, "no such rule"), 409: json(errorSchema, "clashes with another rule") };

  app.openapi(createRoute({ method: "put", path: "/api/v1/rules/{id}", ...secured,
    request: { params: idParam, body: { content: { "application/json": { schema: ruleSchema } }, required: true } }, responses: changed }),
    async (c) => {
      tagRule(c, c.req.valid("param").id);
      const r = await replace(c.req.valid("param").id, c.req.valid("json") as Rule);
      return c.json(r.body as never, r.status);
    });

  app.openapi(createRoute({ method: "patch", path: "/api/v1/rules/{id}", ...secured,
    request: { params: idParam, body: { content: { "application/json": { schema: rulePatchSchema } }, required: true } }, responses: changed }),
    async (c) => {
      const id = c.req.valid("param").id;
      tagRule(c, id);
      const cur = await d.store.get(id);
      if (!cur) return c.json(error("no such rule"), 404);
      const patch = c.req.valid("json");
      const merged = { ...toRule(cur), ...patch, input: { ...cur.input, ...patch.input } };
      const v = ruleSchema.safeParse(merged);
      if (!v.success) return c.json(error("invalid request", fieldIssues(v.error.issues)), 422);
      const r = await replace(id, v.data);
      return c.json(r.body as never, r.status);
    });

  app.openapi(createRoute({ method: "delete", path: "/api/v1/rules/{id}", ...secured, request: { params: idParam },
    responses: { 204: { description: "deleted, then applied" }, 401: errors[401], 404: json(errorSchema, "no such rule") } }),
    async (c) => {
      tagRule(c, c.req.valid("param").id);
      if (!(await d.store.delete(c.req.valid("param").id))) return c.json(error("no such rule"), 404);
      await d.sync();
      return c.body(null, 204);
    });

  const ifaceSchema = z.object({ name: z.string(), ifindex: z.number(), state: z.string(), mtu: z.number(), addresses: z.array(z.string()),
    rules: z.array(z.string()), waiting: z.array(z.string()) }).openapi("Interface");
  app.openapi(createRoute({ method: "get", path: "/api/v1/interfaces", ...secured,
    responses: { 200: json(z.object({ interfaces: z.array(ifaceSchema) }), "interfaces the supervisor sees"), 401: errors[401], 503: json(errorSchema, "supervisor unreachable") } }),
    async (c) => {
      const ifs = await d.interfaces();
      return ifs ? c.json({ interfaces: ifs }, 200) : c.json(error("the supervisor is unreachable"), 503);
    });

  app.openapi(createRoute({ method: "get", path: "/api/v1/stats", ...secured,
    responses: { 200: json(statsSchema, "per rule and per worker counters and rates"), 401: errors[401], 503: json(errorSchema, "no data plane yet") } }),
    async (c) => {
      const s = await d.stats();
      if (!s) return c.json(error("no data plane to read yet"), 503);
      return c.json(s, 200);
    });

  const levels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
  const levelSchema = z.object({ level: z.enum(levels) }).strict().openapi("LogLevel");
  app.openapi(createRoute({ method: "get", path: "/api/v1/log-level", ...secured, responses: { 200: json(levelSchema, "the current log level"), 401: errors[401] } }),
    (c) => c.json({ level: d.logLevel() as (typeof levels)[number] }, 200));
  app.openapi(createRoute({ method: "put", path: "/api/v1/log-level", ...secured,
    request: { body: { content: { "application/json": { schema: levelSchema } }, required: true } },
    responses: { 200: json(levelSchema, "every process logs at this level now"), ...errors, 503: json(errorSchema, "supervisor unreachable") } }),
    async (c) => {
      const { level } = c.req.valid("json");
      try {
        await d.setLogLevel(level);
      } catch (e) {
        return c.json(error(`the supervisor is unreachable: ${(e as Error).message}`), 503);
      }
      return c.json({ level }, 200);
    });

  app.get("/metrics", async (c) => {
    const m = await d.metrics();
    return c.body(m.body, 200, { "content-type": m.contentType });
  });

  app.doc31("/openapi.json", { openapi: "3.1.0", info: { title: "mcrelay API", version: "1", description: "Rules, interfaces and counters of an mcrelay multicast relay." } });
  app.get("/docs", (c) => c.html(docsPage("/openapi.json")));
  app.get("/docs/assets/:file", (c) => docsAsset(c.req.param("file")) ?? c.json(error("not found"), 404));
  return app;
}
