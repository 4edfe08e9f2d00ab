// The routes of a kind the API stores and the data plane runs (rules, links), declared once:
// list, read, create, replace, patch, delete. A change is answered once it is stored and in force;
// if the data plane does not take it, nothing is stored (the store is put back) and the answer
// says why: 422 with the field when the relay refused it, 503 when it could not be asked. One for
// other nodes of a fleet is in force there, not here: the answer comes once it is stored and those
// nodes that are up have reported it (or a second has passed: then they show "pending"). A store
// that cannot be reached is a 503 naming it; nothing is stored then, anywhere.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { runsOn } from "../../../rules/load.ts";
import type { RuleState, Status } from "../../protocol/status.ts";
import type { StoredState } from "../../protocol/stored.ts";
import { error, errorSchema, fieldIssues } from "../errors.ts";
import type { Fleet } from "../fleet/index.ts";
import { tagId } from "../http/spans.ts";
import { bodyErrors, authErrors, idParam, json, secured, storeUnreachable } from "../openapi.ts";
import type { CollectionApi, Noun, Stored } from "../store/collection.ts";
import { ConflictError } from "../store/index.ts";
import type { Applied, DataPlaneSync, StoreChange, WriteResult } from "../sync.ts";

type State = { id: string; state: RuleState; reason?: string };

/** What makes one kind's routes: its schemas, its store, and how it meets the data plane. */
export interface Resource<T extends { id?: string; node?: string }, S extends Stored> {
  noun: Noun;
  /** POST and PUT bodies, with the checks across fields */
  schema: z.ZodType<T>;
  /** PATCH bodies: the plain shape, every field optional */
  patchSchema: z.ZodType<Record<string, unknown>>;
  /** answers: the stored form with its state */
  viewSchema: z.ZodType;
  store: CollectionApi<T, S>;
  /** the stored one as the data plane takes it (without the API's fields) */
  plain(s: S): T;
  /** a PATCH body over the stored one, before it is validated */
  merge(cur: T, patch: Record<string, unknown>): unknown;
  /** the states a change's answer gives */
  applied(a: Applied): Map<string, State>;
  /** the states in the supervisor's status */
  inStatus(st: Status): State[];
  /** what a 409 means: for a create, and for a replace or patch */
  conflict: { create: string; change: string };
}

export interface CrudDeps {
  writes: DataPlaneSync;
  fleet: Fleet;
  status(): Promise<Status | null>;
}

type Answer = { status: number; body: unknown };
type Issue = { path: (string | number)[]; message: string };

/** A merged or replaced body that fails validation: nothing was written yet. */
class InvalidMerge extends Error {
  constructor(readonly issues: Issue[]) {
    super("invalid request");
  }
}

export function mountCrud<T extends { id?: string; node?: string }, S extends Stored>(app: OpenAPIHono, d: CrudDeps, r: Resource<T, S>): void {
  const Noun = r.noun[0].toUpperCase() + r.noun.slice(1);
  const base = `/api/v1/${r.noun}s`;
  const missing = `no such ${r.noun}`;
  const span = `mcrelay.${r.noun}.id`;
  const notApplied = json(errorSchema, "the data plane could not be asked or did not answer in time, or the rule store (PostgreSQL) cannot be reached (the error names it); nothing was stored");
  const inForce = "stored and in force (on this node; other nodes it is for have reported it, or show pending)";
  const storeFull = json(errorSchema, "the store cannot be written (its disk is full, ENOSPC, or the database refuses writes); nothing was stored");
  const notFound = json(errorSchema, missing);

  /** Stored ones as clients see them: with their state in the data plane — this node's for one
   *  it runs, else its node's — and, in a fleet, on each node. */
  async function present(items: S[], states?: Applied): Promise<unknown[]> {
    const [st, fleet] = await Promise.all([states ? null : d.status(), d.fleet.states(r.noun, items)]);
    const byId = states ? r.applied(states) : new Map((st ? r.inStatus(st) : []).map((x) => [x.id, x]));
    const node = d.writes.node;
    return items.map((x) => {
      const nodes = fleet?.get(x.id);
      let top: { state: StoredState; reason?: string };
      const refused = d.writes.refused[r.noun].get(x.id);
      if (node !== null && !runsOn(x, node)) top = nodes?.[0] ?? { state: "pending" };
      else if (refused?.revision === x.revision) top = { state: "error", reason: refused.reason };
      else {
        const s = byId.get(x.id);
        top = { state: s?.state ?? "unknown", reason: s?.reason };
      }
      return { ...x, state: top.state, ...(top.reason ? { reason: top.reason } : {}), ...(nodes ? { nodes } : {}) };
    });
  }

  /** The answer to a write: its status and body. */
  async function answer(w: WriteResult<S | null> | null, ok: 200 | 201 | 204): Promise<Answer> {
    if (w === null) return { status: 404, body: error(missing) };
    if (!w.ok && w.refused) {
      return { status: 422, body: error("the data plane refused the change; nothing was stored", w.refused.map((i) => ({ path: i.path, message: i.message }))) };
    }
    if (!w.ok) return { status: 503, body: error(`the data plane did not take the change, so nothing was stored: ${w.message}`) };
    if (ok === 204 || w.value === null) return { status: 204, body: null };
    return { status: ok, body: (await present([w.value], w.states))[0] };
  }

  /** Runs a write (and waits for the other nodes it concerns); a clash with another is a 409
   *  naming the field, an invalid merge a 422. */
  async function write(change: () => Promise<StoreChange<S | null> | null>, ok: 200 | 201 | 204): Promise<Answer> {
    try {
      let made: StoreChange<S | null> | null = null;
      const w = await d.writes.write(async () => (made = await change()));
      if (w?.ok && made) await d.fleet.settle(r.noun, (made as StoreChange<S | null>).put, (made as StoreChange<S | null>).delete);
      return await answer(w, ok);
    } catch (e) {
      if (e instanceof ConflictError) return { status: 409, body: error("conflict", [{ path: e.path, message: e.message }]) };
      if (e instanceof InvalidMerge) return { status: 422, body: error("invalid request", e.issues) };
      throw e;
    }
  }

  /** One for a node this store can never have (SQLite: a fleet of one) is refused, naming `node`. */
  const checkNode = (x: T) => {
    const why = d.fleet.refuseNode(x.node, r.noun);
    if (why) throw new InvalidMerge([{ path: ["node"], message: why }]);
  };

  const send = (c: Context, a: Answer) => (a.status === 204 ? c.body(null, 204) : c.json(a.body as never, a.status as never));
  const body = (schema: z.ZodType) => ({ body: { content: { "application/json": { schema } }, required: true } });
  const route = (method: "get" | "post" | "put" | "patch" | "delete", path: string, operationId: string, summary: string, rest: object) =>
    createRoute({ method, path, operationId, summary, ...secured, ...rest } as unknown as Parameters<typeof createRoute>[0]);
  const idOf = (c: Context) => (c.req as unknown as { valid(t: "param"): { id: string } }).valid("param").id;
  const bodyOf = <B>(c: Context) => (c.req as unknown as { valid(t: "json"): B }).valid("json");

  app.openapi(route("get", base, `list${Noun}s`, `Every ${r.noun}, with its state`, {
    responses: { 200: json(z.object({ [`${r.noun}s`]: z.array(r.viewSchema) }), `all ${r.noun}s, in the order they were created`), ...authErrors, 503: storeUnreachable },
  }), async (c) => c.json({ [`${r.noun}s`]: await present(await r.store.list()) }, 200) as never);

  app.openapi(route("post", base, `create${Noun}`, `Create a ${r.noun} (stored, then applied)`, {
    request: body(r.schema),
    responses: { 201: json(r.viewSchema, inForce), ...bodyErrors, 409: json(errorSchema, r.conflict.create), 503: notApplied, 507: storeFull },
  }), async (c) => {
    const input = bodyOf<T>(c);
    const a = await write(async () => {
      checkNode(input);
      const stored = await r.store.create(input);
      tagId(c, span, stored.id);
      return { value: stored, noun: r.noun, put: [stored], delete: [], undo: () => r.store.delete(stored.id, stored.revision) };
    }, 201);
    if (a.status === 201) c.header("Location", `${base}/${encodeURIComponent((a.body as S).id)}`);
    return send(c, a) as never;
  });

  app.openapi(route("get", `${base}/{id}`, `get${Noun}`, `One ${r.noun}, with its state`, {
    request: { params: idParam }, responses: { 200: json(r.viewSchema, `the ${r.noun}`), ...authErrors, 404: notFound, 503: storeUnreachable },
  }), async (c) => {
    const s = await r.store.get(idOf(c));
    return (s ? c.json((await present([s]))[0] as never, 200) : c.json(error(missing), 404)) as never;
  });

  /** Replaces a stored one; undone by putting the old one back (unless another write came since). */
  const replace = (id: string, next: (old: T) => T | { issues: Issue[] }) =>
    write(async () => {
      const old = await r.store.get(id);
      if (!old) return null;
      const value = next(r.plain(old));
      if (value && typeof value === "object" && "issues" in value) throw new InvalidMerge(value.issues);
      const given = (value as { id?: string }).id;
      if (given !== undefined && given !== id) throw new InvalidMerge([{ path: ["id"], message: "id in the body differs from the id in the path" }]);
      checkNode(value as T);
      const stored = (await r.store.replace(id, value as T))!;
      return { value: stored, noun: r.noun, put: [stored], delete: [], undo: () => r.store.restore(old, stored.revision) };
    }, 200);

  const changed = { ...bodyErrors, 404: notFound, 409: json(errorSchema, r.conflict.change), 503: notApplied, 507: storeFull };

  app.openapi(route("put", `${base}/{id}`, `replace${Noun}`, `Replace a ${r.noun}`, {
    request: { params: idParam, ...body(r.schema) }, responses: { 200: json(r.viewSchema, inForce), ...changed },
  }), async (c) => {
    const id = idOf(c);
    tagId(c, span, id);
    const input = bodyOf<T>(c);
    return send(c, await replace(id, () => input)) as never;
  });

  app.openapi(route("patch", `${base}/{id}`, `patch${Noun}`, `Change some fields of a ${r.noun}`, {
    request: { params: idParam, ...body(r.patchSchema) }, responses: { 200: json(r.viewSchema, inForce), ...changed },
  }), async (c) => {
    const id = idOf(c);
    tagId(c, span, id);
    const patch = bodyOf<Record<string, unknown>>(c);
    return send(c, await replace(id, (cur) => {
      const v = r.schema.safeParse(r.merge(cur, patch));
      return v.success ? v.data : { issues: fieldIssues(v.error.issues) };
    })) as never;
  });

  app.openapi(route("delete", `${base}/{id}`, `delete${Noun}`, `Delete a ${r.noun}`, {
    request: { params: idParam }, responses: { 204: { description: "deleted, and no longer in force" }, ...authErrors, 404: notFound, 503: notApplied, 507: storeFull },
  }), async (c) => {
    const id = idOf(c);
    tagId(c, span, id);
    const a = await write(async () => {
      const old = await r.store.get(id);
      if (!old || !(await r.store.delete(id))) return null;
      return { value: null, noun: r.noun, put: [], delete: [old], undo: () => r.store.restore(old, null) };
    }, 204);
    return send(c, a) as never;
  });
}
