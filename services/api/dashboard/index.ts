// The dashboard: a page at / (static, no data, no token) and a Server-Sent Events stream at
// /api/v1/events (one `stats` event a second: counters and rates, supervisor status, interfaces).
// The page and its script and style are files beside this one, served from here: no CDN, since
// relays often run on networks without the internet.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { InterfaceInfo } from "../../protocol/control.ts";
import type { Status } from "../../protocol/status.ts";
import type { RuleStore } from "../store/index.ts";
import type { DashboardEvent } from "../../protocol/events.ts";

export type { DashboardEvent };

/** What the dashboard reads: the same as the routes do. */
export interface DashboardDeps {
  token: string;
  store: Pick<RuleStore, "list">;
  stats(): Promise<StatsBody | null>;
  status(): Promise<Status | null>;
  interfaces(): Promise<InterfaceInfo[] | null>;
}
import { error, errorSchema } from "../errors.ts";
import { tokenMatches } from "../token.ts";
import { DROP_REASONS, RULE_DROP_REASONS, WORKER_DROP_REASONS } from "../../../shm/layout.ts";
import { ZERO_RATES, type RuleStatsBody, type StatsBody } from "../../protocol/stats.ts";

const zeroDrops = () => Object.fromEntries(RULE_DROP_REASONS.map((r) => [r, 0])) as RuleStatsBody["drops"];
const zeroWorkerDrops = () => Object.fromEntries(WORKER_DROP_REASONS.map((r) => [r, 0])) as StatsBody["drops"];

/** Everything the page shows, gathered once. A part that cannot be had is null or empty. */
export async function dashboardEvent(d: DashboardDeps): Promise<DashboardEvent> {
  const [s, status, interfaces, stored] = await Promise.all([
    d.stats().catch(() => null),
    d.status().catch(() => null),
    d.interfaces().catch(() => null),
    d.store.list().catch(() => []),
  ]);
  const defs = new Map(stored.map((r) => [r.id, r]));
  const meta = new Map((status?.rules ?? []).map((r) => [r.id, r]));
  const base: RuleStatsBody[] = s ? s.rules : (status?.rules ?? []).map((r) => ({ no: r.no, id: r.id, ...(r.name !== undefined ? { name: r.name } : {}),
    state: r.state, rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, duplicated: 0, drops: zeroDrops(), outputStats: [], ...ZERO_RATES }));
  const rules = base.map((r) => {
    const def = defs.get(r.id);
    const m = meta.get(r.id);
    return {
      ...r,
      ...(m ? { state: m.state } : {}), ...(m?.reason ? { reason: m.reason } : {}),
      ...(def ? { input: def.input, outputs: def.outputs } : {}),
    };
  });
  return { time: new Date().toISOString(), dataPlane: !!s, rules, links: s?.links ?? [], workers: s?.workers ?? [], drops: s?.drops ?? zeroWorkerDrops(),
    windowSeconds: s?.windowSeconds ?? 0, status, interfaces };
}

function bearer(c: Context, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "");
  const given = m?.[1] ?? c.req.query("token");
  return given !== undefined && given !== "" && tokenMatches(given, token);
}

const ASSETS: Record<string, string> = { "dashboard.js": "text/javascript; charset=utf-8", "editor.js": "text/javascript; charset=utf-8",
  "nodes.js": "text/javascript; charset=utf-8", "links.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8" };
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface DashboardOpts {
  /** ms between events (default 1000) */
  intervalMs?: number;
}

/**
 * Adds GET / (the page), GET /dashboard/:file (its script and style) and GET /api/v1/events.
 * Call it before the app's `/api/*` bearer middleware is registered: the events route also takes
 * the token as `?token=` (EventSource cannot set headers) and answers 401 itself.
 */
export function mountDashboard(app: OpenAPIHono, deps: DashboardDeps, opts: DashboardOpts = {}): { streams: () => number } {
  const dir = import.meta.dir;
  // The drop reasons' descriptions go into the page as a JSON data block (not a script: the CSP holds).
  const page = readFileSync(join(dir, "page.html"), "utf8").replace("{{DROP_REASONS}}", JSON.stringify(DROP_REASONS).replace(/</g, "\\u003c"));
  const files = new Map(Object.keys(ASSETS).map((f) => [f, readFileSync(join(dir, f))]));
  const intervalMs = opts.intervalMs ?? 1000;
  let open = 0;
  // Every open stream shares one snapshot a tick: N browser tabs do not ask the supervisor N times.
  let cached: { t: number; ev: Promise<DashboardEvent> } | null = null;
  const snapshot = () => {
    const now = Date.now();
    if (!cached || now - cached.t >= intervalMs / 2) cached = { t: now, ev: dashboardEvent(deps) };
    return cached.ev;
  };

  const secure = (res: Response) => {
    res.headers.set("content-security-policy", CSP);
    res.headers.set("x-content-type-options", "nosniff");
    res.headers.set("referrer-policy", "no-referrer");
    return res;
  };
  app.get("/", (c) => secure(c.html(page)));
  app.get("/dashboard/:file", (c) => {
    const f = c.req.param("file");
    const body = files.get(f);
    if (!body) return c.json(error("not found"), 404);
    return secure(new Response(body, { headers: { "content-type": ASSETS[f], "cache-control": "no-cache" } }));
  });

  const route = createRoute({
    method: "get", path: "/api/v1/events", operationId: "events", security: [{ bearer: [] }],
    summary: "Live counters as Server-Sent Events",
    description: "One `stats` event a second, its data a JSON object: `rules` and `workers` (counters and rates, as /api/v1/stats), `drops`, `status` (the supervisor's workers with pids and restarts, rules with state and reason) and `interfaces`. The token may be sent as `?token=` instead of the Authorization header, for EventSource.",
    request: { query: z.object({ token: z.string().optional().openapi({ description: "the bearer token, for clients that cannot set headers" }) }) },
    responses: {
      200: { content: { "text/event-stream": { schema: z.string() } }, description: "`event: stats` once a second until the client disconnects" },
      401: { content: { "application/json": { schema: errorSchema } }, description: "missing or wrong token" },
    },
  });
  app.openapi(route, (c) => {
    if (!bearer(c, deps.token)) {
      c.header("WWW-Authenticate", 'Bearer realm="mcrelay"');
      return c.json(error("unauthorized: send Authorization: Bearer <token> or ?token=<token>"), 401);
    }
    c.header("X-Accel-Buffering", "no");
    return streamSSE(c, async (stream) => {
      open++;
      let gone = false;
      const stop = () => void (gone = true);
      stream.onAbort(stop);
      c.req.raw.signal.addEventListener("abort", stop);
      try {
        for (let id = 0; !gone && !stream.aborted && !stream.closed; id++) {
          const t0 = Date.now();
          const ev = await snapshot();
          if (gone || stream.aborted) break;
          await stream.writeSSE({ event: "stats", id: String(id), data: JSON.stringify(ev), ...(id === 0 ? { retry: 2000 } : {}) });
          await stream.sleep(Math.max(50, intervalMs - (Date.now() - t0)));
        }
      } finally {
        open--;
        c.req.raw.signal.removeEventListener("abort", stop);
      }
    }) as never;
  });
  return { streams: () => open };
}
