// The OpenAPI document, checked for real and without a relay: the app is built in-process with
// stub dependencies, its /openapi.json must pass Redocly's recommended rules (errors and warnings),
// and every documented operation is called through app.request() — its successes and its error
// answers — with each answer validated against the document (tests/lib/openapi.ts, ajv).
import { beforeAll, describe, expect, test } from "bun:test";
import { createConfig, lintFromString, type NormalizedProblem } from "@redocly/openapi-core";
import { trace } from "@opentelemetry/api";
import { inputKey, ruleId } from "../../rules/load.ts";
import { ruleSchema, type Rule, type RuleInput } from "../../rules/schema.ts";
import { EGRESS_COUNTERS, INGRESS_COUNTERS, RULE_DROP_REASONS, WORKER_DROP_REASONS } from "../../shm/layout.ts";
import type { InterfaceInfo } from "../protocol/control.ts";
import type { StatsBody } from "../protocol/stats.ts";
import type { Status } from "../protocol/status.ts";
import { OpenApiValidator } from "../../tests/lib/openapi.ts";
import { buildApp, type ApiDeps } from "./app.ts";
import type { Fleet } from "./fleet/index.ts";
import type { NodeView } from "../protocol/fleet.ts";
import { ConflictError, StoreUnavailableError, StoreUnreachableError, type RuleStore, type StoredRule } from "./store/index.ts";
import type { DataPlaneSync, StoreChange, WriteResult } from "./sync.ts";

const TOKEN = "openapi-test-token-0123456789";
const DOC_REF = "openapi.json";

/** The store, in memory: the same ids, defaults and clashes (id, name, input) as the real one. */
class MemoryStore implements RuleStore {
  readonly kind = "sqlite" as const;
  private readonly rules = new Map<string, StoredRule>();
  /** a full disk: every write fails as the real store's does */
  full = false;
  /** a database that cannot be reached: every read and write fails */
  away = false;
  private revision = 0;

  private reachable(): void {
    if (this.away) throw new StoreUnreachableError("the rule store (PostgreSQL mcrelay at db:5432) cannot be reached: connect ECONNREFUSED");
  }

  private writable(): void {
    this.reachable();
    if (this.full) throw new StoreUnavailableError("the rule store /test/mcrelay.db cannot be written: no space left on device (ENOSPC)");
  }

  private clash(rule: Rule, id: string, self?: string): void {
    for (const r of this.rules.values()) {
      if (r.id === self) continue;
      if (r.id === id) throw new ConflictError("id", r.id, `a rule with id "${id}" already exists`);
      if (rule.name !== undefined && r.name === rule.name) throw new ConflictError("name", r.id, `name "${rule.name}" is already used by rule ${r.id}`);
      if (inputKey(r) === inputKey(rule)) throw new ConflictError("input", r.id, `input ${inputKey(rule)} is already used by rule ${r.id}`);
    }
  }

  async list() {
    this.reachable();
    return [...this.rules.values()];
  }
  async get(id: string) {
    this.reachable();
    return this.rules.get(id) ?? null;
  }
  async getMany(ids: string[]) {
    return ids.flatMap((id) => this.rules.get(id) ?? []);
  }
  async revisions() {
    return new Map([...this.rules.values()].map((r) => [r.id, r.revision]));
  }
  async create(input: RuleInput) {
    this.writable();
    const rule = ruleSchema.parse(input);
    const id = ruleId(rule);
    this.clash(rule, id);
    const now = new Date().toISOString();
    const stored = { ...rule, id, revision: ++this.revision, createdAt: now, updatedAt: now };
    this.rules.set(id, stored);
    return stored;
  }
  async replace(id: string, input: RuleInput) {
    const old = this.rules.get(id);
    if (!old) return null;
    this.writable();
    const rule = ruleSchema.parse(input);
    if (rule.id !== undefined && rule.id !== id) throw new ConflictError("id", rule.id, `the rule's id "${rule.id}" is not "${id}"`);
    this.clash(rule, id, id);
    const stored = { ...rule, id, revision: ++this.revision, createdAt: old.createdAt, updatedAt: new Date().toISOString() };
    this.rules.set(id, stored);
    return stored;
  }
  async delete(id: string) {
    this.writable();
    return this.rules.delete(id);
  }
  async restore(r: StoredRule, over: number | null) {
    if ((this.rules.get(r.id)?.revision ?? null) !== over) return false;
    this.rules.set(r.id, r);
    return true;
  }
  async upsertMany(): Promise<never> {
    throw new Error("not used by the API routes");
  }
  async close() {}
}

/** What the stubs answer; each case sets what it needs. */
const world = {
  /** the supervisor answers (status, interfaces, stats); false: every one of them is null */
  supervisor: true,
  synced: true,
  /** what the data plane does with a change */
  dataPlane: "takes" as "takes" | "refuses" | "unreachable",
  logLevel: "info",
  setLogLevelFails: false,
};

const store = new MemoryStore();
const zeros = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, 0]));

const writes = {
  async write<T>(change: () => Promise<StoreChange<T> | null>): Promise<WriteResult<T> | null> {
    const c = await change();
    if (!c) return null;
    if (world.dataPlane === "takes") return { ok: true, value: c.value, states: new Map(c.put.map((r) => [r.id!, { id: r.id!, state: "active" as const }])) };
    await c.undo();
    if (world.dataPlane === "refuses") {
      const id = c.put[0]?.id ?? c.delete[0]?.id ?? "";
      return { ok: false, refused: [{ id, path: ["outputs", 0, "interface"], message: "no interface out9" }], message: "refused" };
    }
    return { ok: false, refused: null, message: "the supervisor is not connected" };
  },
} as unknown as DataPlaneSync;

async function status(): Promise<Status | null> {
  if (!world.supervisor) return null;
  const rules = (await store.list()).map((r, no) => ({ no, id: r.id, ...(r.name !== undefined ? { name: r.name } : {}), state: "waiting" as const, reason: "interface in0 is missing" }));
  return { state: "ready", version: 1, pid: 1, shm: "/mcrelay-test", workers: [{ role: "ingress", index: 0, pid: 2, restarts: 0 }, { role: "egress", index: 0, pid: 3, restarts: 0 }],
    rules, api: { pid: 4, listen: "unix:/tmp/test.sock" }, joins: [], updatedAt: new Date().toISOString() };
}

async function interfaces(): Promise<InterfaceInfo[] | null> {
  if (!world.supervisor) return null;
  const ids = (await store.list()).map((r) => r.id);
  return [{ name: "in0", ifindex: 2, state: "up", mtu: 1500, addresses: ["192.168.50.1/24"], rules: ids, waiting: [] },
    { name: "out9", ifindex: 0, state: "missing", mtu: 0, addresses: [], rules: [], waiting: ids }];
}

async function stats(): Promise<StatsBody | null> {
  if (!world.supervisor) return null;
  const rules = (await store.list()).map((r, no) => ({ no, id: r.id, ...(r.name !== undefined ? { name: r.name } : {}), state: "active" as const,
    rxPackets: 10, rxBytes: 2000, txPackets: 10, txBytes: 2000, duplicated: 0, drops: zeros(RULE_DROP_REASONS),
    outputStats: [{ index: 0, txPackets: 10, txBytes: 2000, drops: { mtu_exceeded: 0, send_error: 0 } }], rxPps: 1, txPps: 1, rxBps: 1600, txBps: 1600 }));
  const way = { rxPackets: 3, rxBytes: 300, txPackets: 3, txBytes: 300, duplicated: 0, drops: zeros(RULE_DROP_REASONS) };
  const links = [{ id: "l-1", name: "lab", state: "active" as const, aToB: { ...way, flows: [{ name: "dns", ...way }] }, bToA: { ...way, flows: [] } }];
  return { rules, links, workers: [{ index: 0, ingress: zeros(INGRESS_COUNTERS), egress: zeros(EGRESS_COUNTERS), rxPps: 1, txPps: 1, ingressUtilisation: 0.1, egressUtilisation: 0.1 }],
    drops: zeros(WORKER_DROP_REASONS), windowSeconds: 5 } as unknown as StatsBody;
}

/** The fleet: one other node besides this one, "b", which is down (so it can be forgotten once). */
const fleetWorld = { bForgotten: false };
const node = (name: string, state: NodeView["state"], self: boolean): NodeView => ({ name, state, self, version: "0.1.0", startedAt: "2026-01-01T00:00:00.000Z",
  heartbeatAt: "2026-01-01T00:00:10.000Z", lastSeenMs: state === "up" ? 1000 : 60_000, interfaces: [{ name: "in0", state: "up", addresses: ["192.168.50.1/24"] }],
  rules: { active: 1, waiting: 0, down: 0, error: 0, pending: state === "up" ? 0 : 1 } });
const fleet: Fleet = {
  shared: true,
  hello() {},
  changed() {},
  refuseNode: (n) => (n === "nowhere" ? "no such node here" : null),
  async states(rules) {
    if (store.away) throw new StoreUnreachableError("the rule store (PostgreSQL mcrelay at db:5432) cannot be reached: connect ECONNREFUSED");
    return new Map(rules.map((r) => [r.id, [{ node: "a", state: "active" as const, revision: r.revision, updatedAt: r.updatedAt }, { node: "b", state: "pending" as const, reason: "node b is down" }]]));
  },
  async settle() {},
  async nodes() {
    if (store.away) throw new StoreUnreachableError("the rule store (PostgreSQL mcrelay at db:5432) cannot be reached: connect ECONNREFUSED");
    return [node("a", "up", true), ...(fleetWorld.bForgotten ? [] : [node("b", "down", false)])];
  },
  async forget(name) {
    if (store.away) throw new StoreUnreachableError("the rule store (PostgreSQL mcrelay at db:5432) cannot be reached: connect ECONNREFUSED");
    if (name === "a") return "not down";
    if (name === "b" && !fleetWorld.bForgotten) return (fleetWorld.bForgotten = true), "forgotten";
    return "unknown";
  },
  async close() {},
};

const deps: ApiDeps = {
  fleet,
  token: TOKEN,
  tracer: trace.getTracer("openapi-test"),
  store,
  writes,
  status,
  synced: () => world.synced,
  interfaces,
  stats,
  flowTop: async (limit) => (world.supervisor ? { windowSeconds: 1, flows: [{ link: "lab", linkId: "l-1", direction: "aToB" as const, flow: "dns", protocol: "udp",
    src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 53, pps: 10, bps: 8000, frames: 100, bytes: 10000 },
    { link: "lab", linkId: "l-1", direction: "bToA" as const, flow: null, protocol: "arp", src: "", dst: "", sport: null, dport: null, pps: 1, bps: 480, frames: 2, bytes: 120 }].slice(0, limit) } : null),
  metrics: async () => ({ contentType: "text/plain; version=0.0.4; charset=utf-8", body: "# HELP mcrelay_up 1 when the relay runs\n# TYPE mcrelay_up gauge\nmcrelay_up 1\n" }),
  logLevel: () => world.logLevel,
  setLogLevel: async (level) => {
    if (world.setLogLevelFails) throw new Error("the supervisor is not connected");
    world.logLevel = level;
  },
};

const app = buildApp(deps);
let doc: string;
let v: OpenApiValidator;

beforeAll(async () => {
  const res = await app.request("/openapi.json");
  expect(res.status).toBe(200);
  doc = await res.text();
  v = new OpenApiValidator(JSON.parse(doc));
});

interface Req {
  /** false: no Authorization header; a string: that header */
  auth?: false | string;
  body?: unknown;
  /** a body sent as is, as application/json */
  raw?: string;
}

/** One request through the app; its answer must match the document. */
async function call(method: string, path: string, req: Req = {}): Promise<{ status: number; body: any; text: string }> {
  const headers: Record<string, string> = {};
  if (req.auth !== false) headers.authorization = req.auth ?? `Bearer ${TOKEN}`;
  if (req.body !== undefined || req.raw !== undefined) headers["content-type"] = "application/json";
  const ac = new AbortController();
  const res = await app.request(path, { method, headers, signal: ac.signal, body: req.raw ?? (req.body === undefined ? undefined : JSON.stringify(req.body)) });
  const type = res.headers.get("content-type");
  let text: string;
  if (type?.startsWith("text/event-stream")) {
    // A stream without end: its first event is enough, then the client goes away.
    const reader = res.body!.getReader();
    text = new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    ac.abort();
  } else text = await res.text();
  expect({ [`${method} ${path}`]: v.check(method, path, res.status, type, text) }).toEqual({ [`${method} ${path}`]: [] });
  return { status: res.status, text, body: type?.includes("json") && text ? JSON.parse(text) : null };
}

/** Runs a request and expects a status; the answer is validated by call(). */
async function expectStatus(status: number, method: string, path: string, req?: Req) {
  const r = await call(method, path, req);
  expect({ [`${method} ${path}`]: r.status }).toEqual({ [`${method} ${path}`]: status });
  return r;
}

const rule = (port: number, extra: object = {}) => ({
  input: { interface: "in0", group: "239.1.1.1", port },
  outputs: [{ interface: "out0", group: "239.2.2.2", port: port + 1000 }],
  ...extra,
});

const formatProblem = (p: NormalizedProblem) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location.map((l) => l.pointer).join(", ")}`;

describe("OpenAPI document", () => {
  test("passes Redocly's recommended rules, warnings included", async () => {
    const config = await createConfig({ extends: ["recommended"] }, {
      ignore: {
        [DOC_REF]: {
          // GET /healthz takes no input at all (no parameters, no body, no token: it is for load
          // balancers and orchestrators), so no request to it can be a client error: it answers
          // 200 or 503 only. Ignored at this one operation; the rule holds for every other one.
          "operation-4xx-response": new Set(["#/paths/~1healthz/get/responses"]),
        },
      },
    });
    const problems = await lintFromString({ source: doc, absoluteRef: DOC_REF, config });
    expect(problems.filter((p) => !p.ignored).map(formatProblem)).toEqual([]);
    // The exception is used, and is the only one.
    expect(problems.filter((p) => p.ignored).map(formatProblem)).toEqual([expect.stringContaining("operation-4xx-response")]);
  });

  test("every route's answers, successes and errors, validate against it", async () => {
    const ops = v.operations();
    expect(ops.length).toBeGreaterThan(10);

    // Authentication and the Authorization header, on every route that takes the token from it.
    for (const o of ops) {
      const path = o.path.replace("{id}", "some-rule");
      const open = (JSON.parse(doc).paths[o.path][o.method.toLowerCase()].security ?? [1]).length === 0;
      if (open) continue;
      await expectStatus(401, o.method, path, { auth: false });
      await expectStatus(401, o.method, path, { auth: "Bearer not-the-token" });
      // /api/v1/events also takes ?token=, so a header it cannot read is no token: 401.
      await expectStatus(o.path === "/api/v1/events" ? 401 : 400, o.method, path, { auth: "Basic dXNlcjpwYXNz" });
    }

    // Health.
    Object.assign(world, { supervisor: true, synced: true });
    await expectStatus(200, "GET", "/healthz", { auth: false });
    world.synced = false;
    expect((await expectStatus(503, "GET", "/healthz", { auth: false })).body).toEqual({ status: "applying rules" });
    world.supervisor = false;
    expect((await expectStatus(503, "GET", "/healthz", { auth: false })).body).toEqual({ status: "supervisor unreachable" });
    Object.assign(world, { supervisor: true, synced: true });

    // Rules: create.
    world.dataPlane = "takes";
    expect((await expectStatus(200, "GET", "/api/v1/rules")).body).toEqual({ rules: [] });
    const a = (await expectStatus(201, "POST", "/api/v1/rules", { body: rule(5000, { name: "a" }) })).body;
    const b = (await expectStatus(201, "POST", "/api/v1/rules", { body: rule(5001, { id: "b", name: "b", impairment: { loss: 0.1, stages: ["drop-odd-size"] } }) })).body;
    expect(a).toMatchObject({ name: "a", state: "active", outputs: [{ ttl: 16, dscp: 0 }] });
    await expectStatus(409, "POST", "/api/v1/rules", { body: rule(5000) });
    await expectStatus(422, "POST", "/api/v1/rules", { body: rule(5002, { outputs: [{ interface: "out0", group: "239.2.2.2", port: 7000, ttl: 0 }] }) });
    await expectStatus(422, "POST", "/api/v1/rules", { body: rule(5002, { colour: "red" }) });
    expect((await expectStatus(400, "POST", "/api/v1/rules", { raw: '{"input": ' })).body.error).toBe("malformed JSON");
    world.dataPlane = "refuses";
    expect((await expectStatus(422, "POST", "/api/v1/rules", { body: rule(5002) })).body.issues).toEqual([{ path: ["outputs", 0, "interface"], message: "no interface out9" }]);
    world.dataPlane = "unreachable";
    await expectStatus(503, "POST", "/api/v1/rules", { body: rule(5002) });
    world.dataPlane = "takes";
    store.full = true;
    expect((await expectStatus(507, "POST", "/api/v1/rules", { body: rule(5002) })).body.error).toContain("ENOSPC");
    store.full = false;

    // Rules: read (the state comes from the supervisor's status; unknown without it).
    expect((await expectStatus(200, "GET", "/api/v1/rules")).body.rules.map((r: any) => [r.id, r.state])).toEqual([[a.id, "waiting"], ["b", "waiting"]]);
    expect((await expectStatus(200, "GET", `/api/v1/rules/${a.id}`)).body).toMatchObject({ id: a.id, state: "waiting", reason: "interface in0 is missing" });
    world.supervisor = false;
    expect((await expectStatus(200, "GET", "/api/v1/rules/b")).body.state).toBe("unknown");
    world.supervisor = true;
    await expectStatus(404, "GET", "/api/v1/rules/nope");

    // Rules: replace and patch.
    for (const [method, ok, clash, invalid] of [
      ["PUT", rule(5000, { name: "a2", outputs: [{ interface: "out0", group: "239.2.2.3", port: 7000, ttl: 4, dscp: "preserve" }] }), rule(5000, { name: "b" }), rule(5000, { id: "other" })],
      ["PATCH", { name: "a3", traceSampleRatio: 0.5 }, { name: "b" }, { input: { colour: 3 } }],
    ] as const) {
      await expectStatus(200, method, `/api/v1/rules/${a.id}`, { body: ok });
      await expectStatus(404, method, "/api/v1/rules/nope", { body: ok });
      await expectStatus(409, method, `/api/v1/rules/${a.id}`, { body: clash });
      await expectStatus(422, method, `/api/v1/rules/${a.id}`, { body: invalid });
      await expectStatus(400, method, `/api/v1/rules/${a.id}`, { raw: "{" });
      world.dataPlane = "refuses";
      await expectStatus(422, method, `/api/v1/rules/${a.id}`, { body: ok });
      world.dataPlane = "unreachable";
      await expectStatus(503, method, `/api/v1/rules/${a.id}`, { body: ok });
      world.dataPlane = "takes";
      store.full = true;
      await expectStatus(507, method, `/api/v1/rules/${a.id}`, { body: ok });
      store.full = false;
    }

    // A rule's node: one this store can never run is refused, naming the field; in a fleet the
    // rule shows its state on each node.
    expect((await expectStatus(422, "POST", "/api/v1/rules", { body: rule(5003, { node: "nowhere" }) })).body.issues[0].path).toEqual(["node"]);
    await expectStatus(422, "POST", "/api/v1/rules", { body: rule(5003, { node: "no spaces" }) });
    expect((await expectStatus(200, "GET", `/api/v1/rules/${a.id}`)).body.nodes.map((n: any) => `${n.node}:${n.state}`)).toEqual(["a:active", "b:pending"]);

    // The nodes.
    expect((await expectStatus(200, "GET", "/api/v1/nodes")).body.nodes.map((n: any) => `${n.name}:${n.state}`)).toEqual(["a:up", "b:down"]);
    await expectStatus(409, "DELETE", "/api/v1/nodes/a");
    await expectStatus(204, "DELETE", "/api/v1/nodes/b");
    await expectStatus(404, "DELETE", "/api/v1/nodes/b");

    // PostgreSQL away: reads and writes say so (503, naming it), nothing is stored.
    store.away = true;
    for (const [method, path, body] of [["GET", "/api/v1/rules"], ["GET", `/api/v1/rules/${a.id}`], ["POST", "/api/v1/rules", rule(5004)], ["PUT", `/api/v1/rules/${a.id}`, rule(5004)],
      ["PATCH", `/api/v1/rules/${a.id}`, { name: "x" }], ["DELETE", `/api/v1/rules/${a.id}`], ["GET", "/api/v1/nodes"], ["DELETE", "/api/v1/nodes/b"]] as const) {
      expect((await expectStatus(503, method, path, { body })).body.error).toContain("PostgreSQL mcrelay at db:5432");
    }
    store.away = false;
    expect((await store.list()).some((r) => r.input.port === 5004)).toBe(false);

    // The relay: interfaces, counters, metrics, events (with the supervisor and without).
    expect((await expectStatus(200, "GET", "/api/v1/interfaces")).body.interfaces).toHaveLength(2);
    expect((await expectStatus(200, "GET", "/api/v1/stats")).body.rules).toHaveLength(2);
    expect((await expectStatus(200, "GET", "/api/v1/flows/top?limit=1")).body.flows).toHaveLength(1);
    expect((await expectStatus(422, "GET", "/api/v1/flows/top?limit=0")).body.issues[0].path).toEqual(["limit"]);
    expect((await expectStatus(200, "GET", "/metrics")).text).toContain("mcrelay_up 1");
    expect((await expectStatus(200, "GET", "/api/v1/events")).text).toContain("event: stats");
    world.supervisor = false;
    await expectStatus(503, "GET", "/api/v1/interfaces");
    await expectStatus(503, "GET", "/api/v1/stats");
    await expectStatus(503, "GET", "/api/v1/flows/top");
    expect((await expectStatus(200, "GET", `/api/v1/events?token=${TOKEN}`, { auth: false })).text).toContain("event: stats");
    world.supervisor = true;

    // The log level.
    expect((await expectStatus(200, "GET", "/api/v1/log-level")).body).toEqual({ level: "info" });
    expect((await expectStatus(200, "PUT", "/api/v1/log-level", { body: { level: "debug" } })).body).toEqual({ level: "debug" });
    await expectStatus(422, "PUT", "/api/v1/log-level", { body: { level: "loud" } });
    await expectStatus(400, "PUT", "/api/v1/log-level", { raw: "{" });
    world.setLogLevelFails = true;
    await expectStatus(503, "PUT", "/api/v1/log-level", { body: { level: "warn" } });
    world.setLogLevelFails = false;

    // Rules: delete.
    world.dataPlane = "unreachable";
    await expectStatus(503, "DELETE", "/api/v1/rules/b");
    world.dataPlane = "takes";
    store.full = true;
    await expectStatus(507, "DELETE", "/api/v1/rules/b");
    store.full = false;
    expect((await expectStatus(204, "DELETE", "/api/v1/rules/b")).text).toBe("");
    await expectStatus(404, "DELETE", "/api/v1/rules/b");

    // Every operation was called, and every answer the document promises was seen.
    expect(v.unexercised()).toEqual([]);
    expect(v.responses().filter((r) => !v.seen.has(r))).toEqual([]);
  });

  test("the validator catches answers that differ from the document", () => {
    const rules = "/api/v1/rules";
    const err = JSON.stringify({ error: "x", issues: [] });
    expect(v.check("GET", rules, 418, "application/json", err)).toEqual([expect.stringContaining("status 418 is not documented")]);
    expect(v.check("GET", rules, 200, "application/json", JSON.stringify({ rules: [{ id: "x" }] }))).toEqual([expect.stringContaining("does not match the documented schema")]);
    expect(v.check("GET", `${rules}/x`, 404, "application/json", JSON.stringify({ error: "x" }))).toEqual([expect.stringContaining("issues")]);
    expect(v.check("GET", `${rules}/x`, 404, "text/html", "<p>no</p>")).toEqual([expect.stringContaining("not documented")]);
    expect(v.check("GET", `${rules}/x`, 404, "application/json", "{")).toEqual([expect.stringContaining("not JSON")]);
    expect(v.check("DELETE", `${rules}/x`, 204, "application/json", err)).toEqual([expect.stringContaining("describes none")]);
    expect(v.check("GET", `${rules}/x`, 200, null, "")).toEqual([expect.stringContaining("no body")]);
    expect(v.check("GET", "/nowhere", 200, null, "")).toEqual([expect.stringContaining("no operation")]);
    expect(v.find("POST", `${rules}/x`)).toBeNull();
    expect(v.find("GET", `${rules}/x?y=1`)?.path).toBe(`${rules}/{id}`);
  });
});
