// The OpenAPI document, checked for real and without a relay: the app is built in-process with
// stub dependencies, its /openapi.json must pass Redocly's recommended rules (errors and warnings),
// and every documented operation is called through app.request() — its successes and its error
// answers — with each answer validated against the document (tests/lib/openapi.ts, ajv).
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConfig, lintFromString, type NormalizedProblem } from "@redocly/openapi-core";
import { trace } from "@opentelemetry/api";
import { linkId } from "../../rules/load.ts";
import { EGRESS_COUNTERS, INGRESS_COUNTERS, RULE_DROP_REASONS, WORKER_DROP_REASONS } from "../../shm/layout.ts";
import type { InterfaceInfo } from "../protocol/control.ts";
import type { StatsBody } from "../protocol/stats.ts";
import type { Status } from "../protocol/status.ts";
import { OpenApiValidator } from "../../tests/lib/openapi.ts";
import { pcapHeader } from "../capture/pcap.ts";
import { buildApp, type ApiDeps } from "./app.ts";
import type { Fleet } from "./fleet/index.ts";
import type { NodeView } from "../protocol/fleet.ts";
import { StoreUnreachableError, storeOn } from "./store/index.ts";
import { memoryBackend } from "./store/memory.ts";
import type { DataPlaneSync, StoreChange, WriteResult } from "./sync.ts";

const TOKEN = "openapi-test-token-0123456789";
const DOC_REF = "openapi.json";

/** What the stubs answer; each case sets what it needs. */
const world = {
  /** the supervisor answers (status, interfaces, stats); false: every one of them is null */
  supervisor: true,
  synced: true,
  /** what the data plane does with a change */
  dataPlane: "takes" as "takes" | "refuses" | "unreachable",
  logLevel: "info",
  setLogLevelFails: false,
  /** what the supervisor says to a capture: a pcap to read, a refusal, or nothing */
  capture: "ok" as "ok" | "refused" | "unreachable",
};
/** The capture's "FIFO": a regular file with a pcap header, read the same way. */
const pcapFile = join(mkdtempSync(join(tmpdir(), "mcrelay-openapi-")), "c.pcap");
writeFileSync(pcapFile, pcapHeader());

/** The store's own logic over rows in memory, so ids, defaults and clashes are the real ones. */
const memory = memoryBackend();
const store = storeOn(memory);
const zeros = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, 0]));

const writes = {
  node: null,
  refused: { rule: new Map(), link: new Map() },
  async write<T>(change: () => Promise<StoreChange<T> | null>): Promise<WriteResult<T> | null> {
    const c = await change();
    if (!c) return null;
    const active = (xs: { id?: string }[]) => new Map(xs.map((x) => [x.id!, { id: x.id!, state: "active" as const }]));
    if (world.dataPlane === "takes") return { ok: true, value: c.value, states: { rules: active(c.noun === "rule" ? c.put : []), links: active(c.noun === "link" ? c.put : []) } };
    await c.undo();
    if (world.dataPlane === "refuses" && c.noun === "link") {
      const id = c.put[0]?.id ?? c.delete[0]?.id ?? "";
      return { ok: false, refused: [{ kind: "link", id, path: ["b"], message: "no interface lb9" }], message: "refused" };
    }
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
    rules, links: (await store.links.list()).map((l, i) => ({ id: l.id, ...(l.name !== undefined ? { name: l.name } : {}), a: l.a, b: l.b,
      state: "waiting" as const, reason: `interface ${l.b} is missing`, channels: { aToB: { no: 100 + 2 * i, flows: [] }, bToA: { no: 101 + 2 * i, flows: [] } } })),
    api: { pid: 4, listen: "unix:/tmp/test.sock" }, joins: [], updatedAt: new Date().toISOString() };
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
    rxPackets: 10, rxBytes: 2000, txPackets: 10, txBytes: 2000, duplicated: 0, sequenceLost: 0, drops: zeros(RULE_DROP_REASONS),
    outputStats: [{ index: 0, txPackets: 10, txBytes: 2000, drops: { mtu_exceeded: 0, send_error: 0 } }], rxPps: 1, txPps: 1, rxBps: 1600, txBps: 1600, latencyP50Us: no === 0 ? 42 : null, latencyP99Us: no === 0 ? 180 : null }));
  const way = { rxPackets: 3, rxBytes: 300, txPackets: 3, txBytes: 300, duplicated: 0, sequenceLost: 0, drops: zeros(RULE_DROP_REASONS) };
  const links = [{ id: "l-1", name: "lab", state: "active" as const, aToB: { ...way, flows: [{ name: "dns", ...way }] }, bToA: { ...way, flows: [] } }];
  return { rules, links, workers: [{ index: 0, ingress: zeros(INGRESS_COUNTERS), egress: zeros(EGRESS_COUNTERS), rxPps: 1, txPps: 1, ingressUtilisation: 0.1, egressUtilisation: 0.1 }],
    drops: zeros(WORKER_DROP_REASONS), windowSeconds: 5 } as unknown as StatsBody; // (zeros() is untyped by reason; the document check below is what catches a missing field)
}

/** The fleet: one other node besides this one, "b", which is down (so it can be forgotten once). */
const fleetWorld = { bForgotten: false };
const node = (name: string, state: NodeView["state"], self: boolean): NodeView => ({ name, state, self, version: "0.1.0", startedAt: "2026-01-01T00:00:00.000Z",
  heartbeatAt: "2026-01-01T00:00:10.000Z", lastSeenMs: state === "up" ? 1000 : 60_000, interfaces: [{ name: "in0", state: "up", addresses: ["192.168.50.1/24"] }],
  rules: { active: 1, waiting: 0, down: 0, error: 0, pending: state === "up" ? 0 : 1 }, links: { active: 0, waiting: 1, down: 0, error: 0, pending: 0 } });
const fleet: Fleet = {
  shared: true,
  hello() {},
  changed() {},
  refuseNode: (n) => (n === "nowhere" ? "no such node here" : null),
  async states(_noun, rules) {
    if (memory.away) throw new StoreUnreachableError("the rule store (PostgreSQL mcrelay at db:5432) cannot be reached: connect ECONNREFUSED");
    return new Map(rules.map((r) => [r.id, [{ node: "a", state: "active" as const, revision: r.revision, updatedAt: r.updatedAt }, { node: "b", state: "pending" as const, reason: "node b is down" }]]));
  },
  async settle() {},
  async nodes() {
    if (memory.away) throw new StoreUnreachableError("the rule store (PostgreSQL mcrelay at db:5432) cannot be reached: connect ECONNREFUSED");
    return [node("a", "up", true), ...(fleetWorld.bForgotten ? [] : [node("b", "down", false)])];
  },
  async forget(name) {
    if (memory.away) throw new StoreUnreachableError("the rule store (PostgreSQL mcrelay at db:5432) cannot be reached: connect ECONNREFUSED");
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
  exists: async (kind, id) => (await (kind === "rule" ? store.rules : store.links).get(id)) !== null,
  captureStop: async () => {},
  capture: async () => (world.capture === "ok" ? { fifo: pcapFile } : world.capture === "refused" ? { refused: "4 captures run already" } : null),
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

/** PUT and PATCH of one stored thing: every answer they have (ok: a body that is taken; clash:
 *  one that is a 409; invalid: one that is a 422), the data plane and the store made to fail. */
async function replaceAndPatch(path: string, cases: readonly (readonly ["PUT" | "PATCH", object, object, object])[]) {
  const missing = path.replace(/[^/]+$/, "nope");
  for (const [method, ok, clash, invalid] of cases) {
    await expectStatus(200, method, path, { body: ok });
    await expectStatus(404, method, missing, { body: ok });
    await expectStatus(409, method, path, { body: clash });
    await expectStatus(422, method, path, { body: invalid });
    await expectStatus(400, method, path, { raw: "{" });
    world.dataPlane = "refuses";
    await expectStatus(422, method, path, { body: ok });
    world.dataPlane = "unreachable";
    await expectStatus(503, method, path, { body: ok });
    world.dataPlane = "takes";
    memory.full = true;
    await expectStatus(507, method, path, { body: ok });
    memory.full = false;
  }
}

/** A capture: a pcap stream, the query's fields named, one that is not there, refused, no supervisor. */
async function captureAnswers(path: string) {
  expect((await expectStatus(200, "GET", `${path}?count=5&direction=both`)).text.length).toBe(24);
  expect((await expectStatus(422, "GET", `${path}?count=0&direction=up`)).body.issues.map((i: any) => i.path)).toEqual([["count"], ["direction"]]);
  await expectStatus(404, "GET", path.replace(/[^/]+\/capture$/, "nope/capture"));
  world.capture = "refused";
  expect((await expectStatus(409, "GET", path)).body.error).toContain("captures run already");
  world.capture = "unreachable";
  await expectStatus(503, "GET", path);
  world.capture = "ok";
}

/** DELETE of one stored thing: not taken by the data plane, a full store, deleted, gone. */
async function deleteAnswers(path: string) {
  world.dataPlane = "unreachable";
  await expectStatus(503, "DELETE", path);
  world.dataPlane = "takes";
  memory.full = true;
  await expectStatus(507, "DELETE", path);
  memory.full = false;
  expect((await expectStatus(204, "DELETE", path)).text).toBe("");
  await expectStatus(404, "DELETE", path);
}

const rule = (port: number, extra: object = {}) => ({
  input: { interface: "in0", group: "239.1.1.1", port },
  outputs: [{ interface: "out0", group: "239.2.2.2", port: port + 1000 }],
  ...extra,
});

const link = (extra: object = {}) => ({ a: "la0", b: "lb0", ...extra });

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
    memory.full = true;
    expect((await expectStatus(507, "POST", "/api/v1/rules", { body: rule(5002) })).body.error).toContain("ENOSPC");
    memory.full = false;

    // Rules: read (the state comes from the supervisor's status; unknown without it).
    expect((await expectStatus(200, "GET", "/api/v1/rules")).body.rules.map((r: any) => [r.id, r.state])).toEqual([[a.id, "waiting"], ["b", "waiting"]]);
    expect((await expectStatus(200, "GET", `/api/v1/rules/${a.id}`)).body).toMatchObject({ id: a.id, state: "waiting", reason: "interface in0 is missing" });
    world.supervisor = false;
    expect((await expectStatus(200, "GET", "/api/v1/rules/b")).body.state).toBe("unknown");
    world.supervisor = true;
    await expectStatus(404, "GET", "/api/v1/rules/nope");

    // Rules: replace and patch.
    await replaceAndPatch(`/api/v1/rules/${a.id}`, [
      ["PUT", rule(5000, { name: "a2", outputs: [{ interface: "out0", group: "239.2.2.3", port: 7000, ttl: 4, dscp: "preserve" }] }), rule(5000, { name: "b" }), rule(5000, { id: "other" })],
      ["PATCH", { name: "a3", traceSampleRatio: 0.5 }, { name: "b" }, { input: { colour: 3 } }],
    ]);

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
    memory.away = true;
    for (const [method, path, body] of [["GET", "/api/v1/rules"], ["GET", `/api/v1/rules/${a.id}`], ["POST", "/api/v1/rules", rule(5004)], ["PUT", `/api/v1/rules/${a.id}`, rule(5004)],
      ["PATCH", `/api/v1/rules/${a.id}`, { name: "x" }], ["DELETE", `/api/v1/rules/${a.id}`], ["GET", "/api/v1/nodes"], ["DELETE", "/api/v1/nodes/b"]] as const) {
      expect((await expectStatus(503, method, path, { body })).body.error).toContain("PostgreSQL mcrelay at db:5432");
    }
    memory.away = false;
    expect((await store.list()).some((r) => r.input!.port === 5004)).toBe(false);

    // The relay: interfaces, counters, metrics, events (with the supervisor and without).
    expect((await expectStatus(200, "GET", "/api/v1/interfaces")).body.interfaces).toHaveLength(2);
    expect((await expectStatus(200, "GET", "/api/v1/stats")).body.rules).toHaveLength(2);
    expect((await expectStatus(200, "GET", "/api/v1/flows/top?limit=1")).body.flows).toHaveLength(1);
    expect((await expectStatus(422, "GET", "/api/v1/flows/top?limit=0")).body.issues[0].path).toEqual(["limit"]);
    await captureAnswers(`/api/v1/rules/${b.id}/capture`);
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
    await deleteAnswers("/api/v1/rules/b");
  });

  test("every link route's answers validate; links and rules' inputs do not share an interface", async () => {
    Object.assign(world, { supervisor: true, synced: true, dataPlane: "takes" });
    const feed = (await expectStatus(201, "POST", "/api/v1/rules", { body: rule(5100, { id: "feed" }) })).body;

    // Create.
    expect((await expectStatus(200, "GET", "/api/v1/links")).body).toEqual({ links: [] });
    const lab = (await expectStatus(201, "POST", "/api/v1/links", { body: link({ id: "lab", name: "lab", aToB: { delayMs: 20 } }) })).body;
    expect(lab).toEqual({ id: "lab", name: "lab", a: "la0", b: "lb0", aToB: { delayMs: 20 }, state: "active", revision: lab.revision, createdAt: lab.createdAt, updatedAt: lab.createdAt,
      nodes: [{ node: "a", state: "active", revision: lab.revision, updatedAt: lab.createdAt }, { node: "b", state: "pending", reason: "node b is down" }] });
    const flows = [{ name: "web", match: { address: "10.0.0.0/8", protocol: "tcp", ports: "80-443" }, bToA: { loss: 0.1 } }, { name: "any", match: {} }];
    const wan = (await expectStatus(201, "POST", "/api/v1/links", { body: link({ a: "wa0", b: "wb0", flows }) })).body;
    expect(wan).toMatchObject({ id: linkId({ a: "wa0", b: "wb0" }), flows, state: "active" });
    for (const [body, path] of [[link({ a: "la0", b: "x0" }), ["a"]], [link({ a: "x0", b: "wa0" }), ["b"]], [link({ a: feed.input.interface, b: "x0" }), ["a"]], [link({ name: "lab", a: "x0", b: "y0" }), ["name"]]] as const) {
      expect((await expectStatus(409, "POST", "/api/v1/links", { body })).body.issues.map((i: any) => i.path)).toEqual([path]);
    }
    // and the other way: a rule whose input is a link's interface.
    const onLink = rule(5101, { input: { interface: "lb0", group: "239.1.1.1", port: 5101 } });
    expect((await expectStatus(409, "POST", "/api/v1/rules", { body: onLink })).body.issues).toEqual([{ path: ["input", "interface"], message: expect.stringContaining("belongs to link lab") }]);
    for (const [body, path] of [[link({ colour: "red" }), ["colour"]], [link({ b: "la0" }), ["b"]], [link({ flows: [{ name: "f", match: { ports: "99999" } }] }), ["flows", 0, "match", "ports"]],
      [link({ flows: [{ name: "f", match: { protocol: "quic" } }] }), ["flows", 0, "match", "protocol"]]] as const) {
      expect((await expectStatus(422, "POST", "/api/v1/links", { body })).body.issues.map((i: any) => i.path)).toEqual([path]);
    }
    await expectStatus(400, "POST", "/api/v1/links", { raw: '{"a": ' });
    world.dataPlane = "refuses";
    expect((await expectStatus(422, "POST", "/api/v1/links", { body: link({ a: "n0", b: "n1" }) })).body.issues).toEqual([{ path: ["b"], message: "no interface lb9" }]);
    world.dataPlane = "unreachable";
    await expectStatus(503, "POST", "/api/v1/links", { body: link({ a: "n0", b: "n1" }) });
    world.dataPlane = "takes";
    memory.full = true;
    expect((await expectStatus(507, "POST", "/api/v1/links", { body: link({ a: "n0", b: "n1" }) })).body.error).toContain("ENOSPC");
    memory.full = false;
    // Nothing of those was stored.
    expect((await expectStatus(200, "GET", "/api/v1/links")).body.links.map((l: any) => l.id)).toEqual(["lab", wan.id]);

    // Read: the state from the supervisor's status, unknown without it.
    expect((await expectStatus(200, "GET", "/api/v1/links/lab")).body).toMatchObject({ id: "lab", state: "waiting", reason: "interface lb0 is missing" });
    world.supervisor = false;
    expect((await expectStatus(200, "GET", "/api/v1/links")).body.links.map((l: any) => l.state)).toEqual(["unknown", "unknown"]);
    world.supervisor = true;
    await expectStatus(404, "GET", "/api/v1/links/nope");

    // Replace and patch.
    await replaceAndPatch("/api/v1/links/lab", [
      ["PUT", link({ name: "lab", bToA: { loss: 0.5 } }), link({ a: "wa0" }), link({ id: "other" })],
      ["PATCH", { flows: [{ name: "only", match: { ports: "53" } }] }, { b: "wb0" }, { flows: [{ name: "x", match: { ports: "1-0" } }] }],
    ]);
    // PATCH replaced the flows and kept what it did not name (PUT had set bToA).
    expect((await expectStatus(200, "GET", "/api/v1/links/lab")).body).toMatchObject({ name: "lab", bToA: { loss: 0.5 }, flows: [{ name: "only", match: { ports: "53" } }] });

    // A link's node, as a rule's: one this store can never run is refused, naming the field; in a
    // fleet the link shows its state on each node; a store that cannot be reached is a 503.
    expect((await expectStatus(422, "POST", "/api/v1/links", { body: link({ a: "n0", b: "n1", node: "nowhere" }) })).body.issues[0].path).toEqual(["node"]);
    await expectStatus(422, "POST", "/api/v1/links", { body: link({ a: "n0", b: "n1", node: "no spaces" }) });
    expect((await expectStatus(200, "GET", "/api/v1/links/lab")).body.nodes.map((n: any) => `${n.node}:${n.state}`)).toEqual(["a:active", "b:pending"]);
    memory.away = true;
    for (const [method, path, body] of [["GET", "/api/v1/links"], ["GET", "/api/v1/links/lab"], ["POST", "/api/v1/links", link({ a: "n0", b: "n1" })],
      ["PUT", "/api/v1/links/lab", link({ name: "lab" })], ["PATCH", "/api/v1/links/lab", { name: "x" }], ["DELETE", "/api/v1/links/lab"]] as const) {
      expect((await expectStatus(503, method, path, { body })).body.error).toContain("PostgreSQL mcrelay at db:5432");
    }
    memory.away = false;

    await captureAnswers("/api/v1/links/lab/capture");

    // Delete.
    await deleteAnswers("/api/v1/links/lab");
    // Its interfaces are free for rules again.
    await expectStatus(201, "POST", "/api/v1/rules", { body: onLink });
  });

  test("every operation was called, and every answer the document promises was seen", () => {
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
