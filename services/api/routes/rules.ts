// /api/v1/rules: CRUD. A change is answered once it is stored and in force; if the data plane
// does not take it, nothing is stored (the store is put back) and the answer says why: 422 with
// the field when the relay refused it, 503 when it could not be asked. A rule for other nodes of a
// fleet is in force there, not here: the answer comes once it is stored and those nodes that are
// up have reported it (or a second has passed: then they show "pending"). A store that cannot be
// reached is a 503 naming it; nothing is stored then, anywhere.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { runsOn } from "../../../rules/load.ts";
import { rulePatchSchema, ruleSchema, type Rule } from "../../../rules/schema.ts";
import type { RuleStatus } from "../../protocol/control.ts";
import { ruleViewSchema, type RuleView, type StoredRule } from "../../protocol/rules.ts";
import type { Status } from "../../protocol/status.ts";
import { error, errorSchema } from "../errors.ts";
import { tagRule } from "../http/spans.ts";
import type { Fleet } from "../fleet/index.ts";
import { bodyErrors, authErrors, idParam, json, secured, storeUnreachable } from "../openapi.ts";
import { ConflictError, type RuleStore } from "../store/index.ts";
import { toRule, type DataPlaneSync, type StoreChange, type WriteResult } from "../sync.ts";

export interface RulesDeps {
  store: RuleStore;
  writes: DataPlaneSync;
  fleet: Fleet;
  status(): Promise<Status | null>;
}

const notApplied = json(errorSchema, "the data plane could not be asked or did not answer in time, or the rule store (PostgreSQL) cannot be reached (the error names it); nothing was stored");
const conflict = json(errorSchema, "same id, name or input (on a node both run on) as another rule");
const storeFull = json(errorSchema, "the store cannot be written (its disk is full, ENOSPC, or the database refuses writes); nothing was stored");

export function mountRules(app: OpenAPIHono, d: RulesDeps): void {
  /** Stored rules as clients see them: with their state in the data plane — this node's for a
   *  rule it runs, else its node's — and, in a fleet, on each node. */
  async function present(rules: StoredRule[], states?: Map<string, RuleStatus>): Promise<RuleView[]> {
    const [st, fleet] = await Promise.all([states ? null : d.status(), d.fleet.states(rules)]);
    const byId = new Map((st?.rules ?? []).map((x) => [x.id, x]));
    const node = d.writes.node ?? null;
    return rules.map((r) => {
      const nodes = fleet?.get(r.id);
      let top: { state: RuleView["state"]; reason?: string };
      const refused = d.writes.refused?.get(r.id);
      if (node !== null && !runsOn(r, node)) top = nodes?.[0] ?? { state: "pending" };
      else if (refused?.revision === r.revision) top = { state: "error", reason: refused.reason };
      else {
        const s = states?.get(r.id) ?? byId.get(r.id);
        top = { state: s?.state ?? "unknown", reason: s?.reason };
      }
      return { ...r, state: top.state, ...(top.reason ? { reason: top.reason } : {}), ...(nodes ? { nodes } : {}) };
    });
  }

  /** The answer to a write: its status and body. */
  async function answer<T extends StoredRule | null>(r: WriteResult<T> | null, ok: 200 | 201 | 204) {
    if (r === null) return { status: 404 as const, body: error("no such rule") };
    if (!r.ok && r.refused) {
      return { status: 422 as const, body: error("the data plane refused the change; nothing was stored", r.refused.map((i) => ({ path: i.path, message: i.message }))) };
    }
    if (!r.ok) return { status: 503 as const, body: error(`the data plane did not take the change, so nothing was stored: ${r.message}`) };
    if (ok === 204 || r.value === null) return { status: 204 as const, body: null };
    return { status: ok, body: (await present([r.value], r.states))[0] };
  }

  /** Runs a write (and waits for the other nodes it concerns); a clash with another rule is a 409 naming the field. */
  async function write<T extends StoredRule | null>(c: Context, change: () => Promise<StoreChange<T> | null>, ok: 200 | 201 | 204) {
    try {
      let made: StoreChange<T> | null = null;
      const r = await d.writes.write(async () => (made = await change()));
      if (r?.ok && made) await d.fleet.settle((made as StoreChange<T>).put, (made as StoreChange<T>).delete);
      return await answer(r, ok);
    } catch (e) {
      if (e instanceof ConflictError) return { status: 409 as const, body: error("conflict", [{ path: [e.field], message: e.message }]) };
      throw e;
    }
  }

  const send = (c: Context, r: { status: number; body: unknown }) =>
    r.status === 204 ? c.body(null, 204) : c.json(r.body as never, r.status as never);

  app.openapi(createRoute({ method: "get", path: "/api/v1/rules", operationId: "listRules", summary: "Every rule, with its state", ...secured,
    responses: { 200: json(z.object({ rules: z.array(ruleViewSchema) }), "all rules, in the order they were created"), ...authErrors, 503: storeUnreachable } }),
    async (c) => c.json({ rules: await present(await d.store.list()) }, 200));

  app.openapi(createRoute({ method: "post", path: "/api/v1/rules", operationId: "createRule", summary: "Create a rule (stored, then applied)", ...secured,
    request: { body: { content: { "application/json": { schema: ruleSchema } }, required: true } },
    responses: { 201: json(ruleViewSchema, "stored and in force (on this node; other nodes it is for have reported it, or show pending)"), ...bodyErrors, 409: conflict, 503: notApplied, 507: storeFull } }),
    async (c) => {
      const rule = c.req.valid("json") as Rule;
      const r = await invalidAs422(() => write(c, async () => {
        checkNode(rule);
        const stored = await d.store.create(rule);
        tagRule(c, stored.id);
        return { value: stored, put: [stored], delete: [], undo: () => d.store.delete(stored.id, stored.revision) };
      }, 201));
      if (r.status === 201) c.header("Location", `/api/v1/rules/${encodeURIComponent((r.body as RuleView).id)}`);
      return send(c, r) as never;
    });

  app.openapi(createRoute({ method: "get", path: "/api/v1/rules/{id}", operationId: "getRule", summary: "One rule, with its state", ...secured,
    request: { params: idParam }, responses: { 200: json(ruleViewSchema, "the rule"), ...authErrors, 404: json(errorSchema, "no such rule"), 503: storeUnreachable } }),
    async (c) => {
      const r = await d.store.get(c.req.valid("param").id);
      return r ? c.json((await present([r]))[0], 200) : c.json(error("no such rule"), 404);
    });

  /** Replaces a stored rule; undone by putting the old one back. */
  const replace = (c: Context, id: string, next: (old: StoredRule) => Rule | { issues: { path: (string | number)[]; message: string }[] }) =>
    write(c, async () => {
      const old = await d.store.get(id);
      if (!old) return null;
      const rule = next(old);
      if ("issues" in rule) throw new InvalidMerge(rule.issues);
      if (rule.id !== undefined && rule.id !== id) throw new InvalidMerge([{ path: ["id"], message: "id in the body differs from the id in the path" }]);
      checkNode(rule);
      const stored = (await d.store.replace(id, rule))!;
      return { value: stored, put: [stored], delete: [], undo: () => d.store.restore(old, stored.revision) };
    }, 200);

  /** A rule for a node this store can never have (SQLite: a fleet of one) is refused, naming `node`. */
  const checkNode = (rule: Rule) => {
    const why = d.fleet.refuseNode(rule.node);
    if (why) throw new InvalidMerge([{ path: ["node"], message: why }]);
  };

  const changed = { 200: json(ruleViewSchema, "stored and in force (on this node; other nodes it is for have reported it, or show pending)"), ...bodyErrors, 404: json(errorSchema, "no such rule"), 409: json(errorSchema, "clashes with another rule"), 503: notApplied, 507: storeFull };

  app.openapi(createRoute({ method: "put", path: "/api/v1/rules/{id}", operationId: "replaceRule", summary: "Replace a rule", ...secured,
    request: { params: idParam, body: { content: { "application/json": { schema: ruleSchema } }, required: true } }, responses: changed }),
    async (c) => {
      const id = c.req.valid("param").id;
      tagRule(c, id);
      const body = c.req.valid("json") as Rule;
      return send(c, await invalidAs422(() => replace(c, id, () => body))) as never;
    });

  app.openapi(createRoute({ method: "patch", path: "/api/v1/rules/{id}", operationId: "patchRule", summary: "Change some fields of a rule", ...secured,
    request: { params: idParam, body: { content: { "application/json": { schema: rulePatchSchema } }, required: true } }, responses: changed }),
    async (c) => {
      const id = c.req.valid("param").id;
      tagRule(c, id);
      const patch = c.req.valid("json");
      return send(c, await invalidAs422(() => replace(c, id, (cur) => {
        const merged = { ...toRule(cur), ...patch, input: { ...cur.input, ...patch.input } };
        const v = ruleSchema.safeParse(merged);
        return v.success ? v.data : { issues: v.error.issues.map((i) => ({ path: i.path.map((p) => (typeof p === "number" ? p : String(p))), message: i.message })) };
      }))) as never;
    });

  app.openapi(createRoute({ method: "delete", path: "/api/v1/rules/{id}", operationId: "deleteRule", summary: "Delete a rule", ...secured,
    request: { params: idParam }, responses: { 204: { description: "deleted, and no longer in force" }, ...authErrors, 404: json(errorSchema, "no such rule"), 503: notApplied, 507: storeFull } }),
    async (c) => {
      const id = c.req.valid("param").id;
      tagRule(c, id);
      const r = await write(c, async () => {
        const old = await d.store.get(id);
        if (!old || !(await d.store.delete(id))) return null;
        return { value: null, put: [], delete: [old], undo: () => d.store.restore(old, null) };
      }, 204);
      return send(c, r) as never;
    });
}

/** A merged or replaced rule that fails validation: nothing was written yet. */
class InvalidMerge extends Error {
  constructor(readonly issues: { path: (string | number)[]; message: string }[]) {
    super("invalid request");
  }
}

async function invalidAs422<T>(fn: () => Promise<T>): Promise<T | { status: 422; body: ReturnType<typeof error> }> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof InvalidMerge) return { status: 422, body: error("invalid request", e.issues) };
    throw e;
  }
}
