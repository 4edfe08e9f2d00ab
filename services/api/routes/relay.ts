// The relay itself: health, interfaces, counters (JSON and Prometheus), log level.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { InterfaceInfo } from "../../protocol/control.ts";
import type { Status } from "../../protocol/status.ts";
import { statsSchema, type StatsBody } from "../../protocol/stats.ts";
import { flowTopSchema, type FlowTopBody } from "../../protocol/flowtop.ts";
import { error, errorSchema } from "../errors.ts";
import { authErrors, bodyErrors, json, open, secured } from "../openapi.ts";

export interface RelayDeps {
  status(): Promise<Status | null>;
  /** the supervisor runs the store's rules */
  synced(): boolean;
  interfaces(): Promise<InterfaceInfo[] | null>;
  stats(): Promise<StatsBody | null>;
  /** the same, as JSON bytes (when the caller has them encoded already) */
  statsJson?(): Promise<Uint8Array<ArrayBuffer> | null>;
  metrics(): Promise<{ contentType: string; body: string | Uint8Array<ArrayBuffer> }>;
  /** the busiest 5-tuples on the links now */
  flowTop?(limit: number): Promise<FlowTopBody | null>;
  logLevel(): string;
  setLogLevel(level: string): Promise<void>;
}

const health = z.object({ status: z.string().describe("ready, or what the relay waits for") }).meta({ id: "Health" });
const ifaceSchema = z.object({ name: z.string(), ifindex: z.number(), state: z.string(), mtu: z.number(), addresses: z.array(z.string()),
  rules: z.array(z.string()).describe("rules that use it"), waiting: z.array(z.string()).describe("rules waiting for it") }).meta({ id: "Interface" });
const levels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const levelSchema = z.object({ level: z.enum(levels) }).strict().meta({ id: "LogLevel" });
const unreachable = json(errorSchema, "the supervisor is unreachable");

export function mountRelay(app: OpenAPIHono, d: RelayDeps): void {
  app.openapi(createRoute({ method: "get", path: "/healthz", operationId: "health", summary: "Ready when the data plane runs the stored rules", ...open,
    responses: { 200: json(health, "the supervisor, its workers and the stored rules are in force"), 503: json(health, "not ready, and why") } }),
    async (c) => {
      const st = await d.status();
      if (st?.state === "ready" && d.synced()) return c.json({ status: "ready" }, 200);
      return c.json({ status: !st ? "supervisor unreachable" : st.state !== "ready" ? st.state : "applying rules" }, 503);
    });

  app.openapi(createRoute({ method: "get", path: "/api/v1/interfaces", operationId: "listInterfaces", summary: "Interfaces and the rules on them", ...secured,
    responses: { 200: json(z.object({ interfaces: z.array(ifaceSchema) }), "interfaces the supervisor sees"), ...authErrors, 503: unreachable } }),
    async (c) => {
      const ifs = await d.interfaces();
      return ifs ? c.json({ interfaces: ifs }, 200) : c.json(error("the supervisor is unreachable"), 503);
    });

  app.openapi(createRoute({ method: "get", path: "/api/v1/stats", operationId: "stats", summary: "Counters and rates per rule and worker", ...secured,
    responses: { 200: json(statsSchema, "per rule and per worker counters and rates"), ...authErrors, 503: json(errorSchema, "no data plane yet") } }),
    async (c) => {
      if (d.statsJson) {
        const bytes = await d.statsJson();
        return bytes ? (c.body(bytes, 200, { "content-type": "application/json" }) as never) : c.json(error("no data plane to read yet"), 503);
      }
      const s = await d.stats();
      return s ? c.json(s, 200) : c.json(error("no data plane to read yet"), 503);
    });

  app.openapi(createRoute({ method: "get", path: "/api/v1/flows/top", operationId: "flowTop", summary: "The busiest 5-tuples the links carry now, and the flow entry each matched", ...secured,
    request: { query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(20).describe("how many (busiest first)") }) },
    responses: { 200: json(flowTopSchema, "busiest first, over the last second"), ...authErrors, 422: bodyErrors[422], 503: json(errorSchema, "no data plane yet") } }),
    async (c) => {
      const top = d.flowTop ? await d.flowTop(c.req.valid("query").limit) : null;
      return top ? c.json(top, 200) : c.json(error("no data plane to read yet"), 503);
    });

  app.openapi(createRoute({ method: "get", path: "/metrics", operationId: "metrics", summary: "Prometheus metrics", ...secured,
    responses: { 200: { content: { "text/plain": { schema: z.string() } }, description: "Prometheus text exposition format 0.0.4" }, ...authErrors } }),
    async (c) => {
      const m = await d.metrics();
      return c.body(m.body, 200, { "content-type": m.contentType }) as never;
    });

  app.openapi(createRoute({ method: "get", path: "/api/v1/log-level", operationId: "getLogLevel", summary: "The log level of every process", ...secured,
    responses: { 200: json(levelSchema, "the current log level"), ...authErrors } }),
    (c) => c.json({ level: d.logLevel() as (typeof levels)[number] }, 200));

  app.openapi(createRoute({ method: "put", path: "/api/v1/log-level", operationId: "setLogLevel", summary: "Change the log level of every process", ...secured,
    request: { body: { content: { "application/json": { schema: levelSchema } }, required: true } },
    responses: { 200: json(levelSchema, "every process logs at this level now"), ...bodyErrors, 503: unreachable } }),
    async (c) => {
      const { level } = c.req.valid("json");
      try {
        await d.setLogLevel(level);
      } catch (e) {
        return c.json(error(`the supervisor is unreachable: ${(e as Error).message}`), 503);
      }
      return c.json({ level }, 200);
    });
}
