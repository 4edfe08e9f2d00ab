// The REST API against a real relay (real processes, real HTTP, real SQLite and PostgreSQL):
//   src --veth-- relay --veth-- dst, API on a Unix socket in the relay's state directory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Lab } from "../lab/netns.ts";
import { relayTopology } from "./lib/topology.ts";
import { startPostgres } from "./lib/postgres.ts";
import { TestRelay, backlogDrops, expectExactlyOnce, runGen, startSink } from "./lib/relay.ts";

let lab: Lab;
let src: string, relay: string, dst: string;

beforeAll(() => {
  ({ lab, src, relay, dst } = relayTopology("api"));
});
afterAll(() => lab?.destroy());

const rule = (port: number, extra: object = {}) => ({
  input: { interface: "in0", group: "239.1.1.1", port },
  outputs: [{ interface: "out0", group: "239.2.2.2", port: port + 1000 }],
  ...extra,
});

async function withRelay(fn: (r: TestRelay) => Promise<void>, config: unknown = { rules: [] }, env?: Record<string, string>) {
  const r = await TestRelay.start(lab, relay, config, { env });
  try {
    await r.apiReady();
    await fn(r);
  } finally {
    await r.stop();
  }
}

describe("REST API", () => {
  test("CRUD: create, list, read, replace, patch, delete — each change applied", async () => {
    await withRelay(async (r) => {
      const c = await r.api("POST", "/api/v1/rules", rule(5000, { name: "feed-a" }));
      expect(c.status).toBe(201);
      expect(c.body).toMatchObject({ name: "feed-a", state: "active", outputs: [{ ttl: 16, dscp: 0 }] });
      const id = c.body.id as string;
      expect(r.status().rules.find((x) => x.id === id)?.state).toBe("active"); // applied before 201

      expect((await r.api("GET", "/api/v1/rules")).body.rules.map((x: any) => x.id)).toEqual([id]);
      expect((await r.api("GET", `/api/v1/rules/${id}`)).body).toMatchObject({ id, name: "feed-a" });

      const put = await r.api("PUT", `/api/v1/rules/${id}`, rule(5000, { name: "feed-a", outputs: [{ interface: "out0", group: "239.2.2.3", port: 7000, ttl: 4 }] }));
      expect(put.status).toBe(200);
      expect(put.body.outputs).toEqual([{ interface: "out0", group: "239.2.2.3", port: 7000, ttl: 4, dscp: 0 }]);
      expect(put.body.createdAt).toBe(c.body.createdAt);

      const patch = await r.api("PATCH", `/api/v1/rules/${id}`, { name: "feed-b", input: { port: 5001 } });
      expect(patch.status).toBe(200);
      expect(patch.body).toMatchObject({ id, name: "feed-b", input: { interface: "in0", group: "239.1.1.1", port: 5001 }, outputs: [{ port: 7000 }] });

      expect((await r.api("DELETE", `/api/v1/rules/${id}`)).status).toBe(204);
      expect((await r.api("GET", `/api/v1/rules/${id}`)).status).toBe(404);
      expect(r.status().rules).toEqual([]);
    });
  }, 60_000);

  test("bad input: status, the field named, and nothing stored", async () => {
    await withRelay(async (r) => {
      const keep = await r.api("POST", "/api/v1/rules", rule(5000, { id: "keep", name: "keep" }));
      expect(keep.status).toBe(201);
      const before = JSON.stringify((await r.api("GET", "/api/v1/rules")).body);
      const out0 = (o: object) => rule(6000, { outputs: [{ interface: "out0", group: "239.2.2.2", port: 7000, ...o }] });
      const cases: [string, string, string, unknown, number, (string | number)[] | null, RegExp][] = [
        ["ttl 0", "POST", "/api/v1/rules", out0({ ttl: 0 }), 422, ["outputs", 0, "ttl"], /ttl must be 1–255/],
        ["ttl 256", "POST", "/api/v1/rules", out0({ ttl: 256 }), 422, ["outputs", 0, "ttl"], /ttl/],
        ["dscp 64", "POST", "/api/v1/rules", out0({ dscp: 64 }), 422, ["outputs", 0, "dscp"], /dscp must be 0–63/],
        ["unknown key", "POST", "/api/v1/rules", out0({ colour: "red" }), 422, ["outputs", 0, "colour"], /unknown key "colour"/],
        ["unknown top-level key", "POST", "/api/v1/rules", rule(6000, { extra: 1 }), 422, ["extra"], /unknown key "extra"/],
        ["bad address", "POST", "/api/v1/rules", rule(6000, { input: { interface: "in0", group: "239.1.1", port: 6000 } }), 422, ["input", "group"], /input group must be/],
        ["port 0", "POST", "/api/v1/rules", rule(6000, { input: { interface: "in0", group: "239.1.1.1", port: 0 } }), 422, ["input", "port"], /port must be 1–65535/],
        ["empty outputs", "POST", "/api/v1/rules", rule(6000, { outputs: [] }), 422, ["outputs"], /at least one output/],
        ["bad interface name", "POST", "/api/v1/rules", out0({ interface: "out 0" }), 422, ["outputs", 0, "interface"], /not a valid Linux interface name/],
        ["unicast input without source", "POST", "/api/v1/rules", rule(6000, { input: { interface: "in0", group: "10.1.1.1", port: 6000 } }), 422, ["input", "group"], /needs a source/],
        ["output equals input", "POST", "/api/v1/rules", rule(6000, { outputs: [{ interface: "in0", group: "239.1.1.1", port: 6000 }] }), 422, ["outputs", 0], /equals the input/],
        ["same input as another rule", "POST", "/api/v1/rules", rule(5000), 409, ["input"], /keep/],
        ["same name as another rule", "POST", "/api/v1/rules", rule(6000, { name: "keep" }), 409, ["name"], /keep/],
        ["same id as another rule", "POST", "/api/v1/rules", rule(6000, { id: "keep" }), 409, ["id"], /keep/],
        ["PUT with another id in the body", "PUT", "/api/v1/rules/keep", rule(5000, { id: "other" }), 422, ["id"], /differs/],
        ["PATCH that makes output equal input", "PATCH", "/api/v1/rules/keep", { outputs: [{ interface: "in0", group: "239.1.1.1", port: 5000 }] }, 422, ["outputs", 0], /equals the input/],
        ["PATCH with unknown key", "PATCH", "/api/v1/rules/keep", { input: { colour: 3 } }, 422, ["input", "colour"], /unknown key "colour"/],
        ["PUT unknown id", "PUT", "/api/v1/rules/nope", rule(6000), 404, null, /no such rule/],
        ["PATCH unknown id", "PATCH", "/api/v1/rules/nope", { name: "x" }, 404, null, /no such rule/],
        ["DELETE unknown id", "DELETE", "/api/v1/rules/nope", undefined, 404, null, /no such rule/],
        ["GET unknown id", "GET", "/api/v1/rules/nope", undefined, 404, null, /no such rule/],
      ];
      for (const [what, method, path, body, status, field, msg] of cases) {
        const res = await r.api(method, path, body);
        expect({ what, status: res.status }).toEqual({ what, status });
        if (field) {
          const issue = res.body.issues.find((i: any) => JSON.stringify(i.path) === JSON.stringify(field));
          expect({ what, issue: issue?.path }).toEqual({ what, issue: field });
          expect(issue.message).toMatch(msg);
        } else expect(res.body.error).toMatch(msg);
        expect(JSON.stringify((await r.api("GET", "/api/v1/rules")).body)).toBe(before);
      }
      const malformed = await r.api("POST", "/api/v1/rules", undefined, { raw: '{"input": ' });
      expect(malformed.status).toBe(400);
      expect(malformed.body.error).toBe("malformed JSON");
      expect((await r.api("GET", "/api/v1/rules", undefined, { auth: false })).status).toBe(401);
      const wrong = await fetch("http://relay/api/v1/rules", { headers: { authorization: "Bearer not-the-token" }, unix: r.apiSocket } as RequestInit);
      expect(wrong.status).toBe(401);
      expect(JSON.stringify((await r.api("GET", "/api/v1/rules")).body)).toBe(before);
    });
  }, 60_000);

  test("a PUT or PATCH the data plane refuses leaves the rule exactly as it was", async () => {
    await withRelay(async (r) => {
      expect((await r.api("POST", "/api/v1/rules", rule(5000, { id: "kept", name: "kept" }))).status).toBe(201);
      const before = (await r.api("GET", "/api/v1/rules/kept")).body;
      // Only the relay can see that 10.77.0.255 is out0's broadcast address: the store took the
      // change first and must put the old rule back.
      const broadcast = { outputs: [{ interface: "out0", group: "10.77.0.255", port: 6600 }] };
      for (const [method, body] of [["PUT", rule(5000, { name: "kept", ...broadcast })], ["PATCH", broadcast]] as const) {
        const res = await r.api(method, "/api/v1/rules/kept", body);
        expect([method, res.status, res.body.issues.map((i: any) => i.path)]).toEqual([method, 422, [["outputs", 0, "group"]]]);
        expect((await r.api("GET", "/api/v1/rules/kept")).body).toEqual(before);
      }
      expect(r.status().rules.map((x) => x.id)).toEqual(["kept"]);
    });
  }, 60_000);

  test("healthz, openapi.json and docs need no token; interfaces and stats do", async () => {
    await withRelay(async (r) => {
      expect(await r.api("GET", "/healthz", undefined, { auth: false })).toEqual({ status: 200, body: { status: "ready" } });
      const doc = await r.api("GET", "/openapi.json", undefined, { auth: false });
      expect(doc.body.openapi).toBe("3.1.0");
      expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(["/api/v1/rules", "/api/v1/rules/{id}", "/api/v1/interfaces", "/api/v1/stats", "/healthz"]));
      const docs = await fetch("http://relay/docs", { unix: r.apiSocket } as RequestInit);
      expect(docs.status).toBe(200);
      expect(await docs.text()).toContain("swagger-ui-bundle.js");
      const asset = await fetch("http://relay/docs/assets/swagger-ui-bundle.js", { unix: r.apiSocket } as RequestInit);
      expect(asset.status).toBe(200);
      const ifs = await r.api("GET", "/api/v1/interfaces");
      expect(ifs.body.interfaces.find((i: any) => i.name === "in0")).toMatchObject({ state: "up", addresses: ["192.168.50.1/24"], rules: [r.status().rules[0].id] });
      expect(ifs.body.interfaces.find((i: any) => i.name === "nowhere0")).toMatchObject({ state: "missing", waiting: [expect.any(String)] });
      expect((await r.api("GET", "/api/v1/stats")).body.rules).toHaveLength(2);
      expect((await r.api("GET", "/api/v1/interfaces", undefined, { auth: false })).status).toBe(401);
    }, { rules: [rule(5000), { input: { interface: "nowhere0", group: "239.1.1.1", port: 5000 }, outputs: [{ interface: "out0", group: "239.9.9.9", port: 1 }] }] });
  }, 60_000);

  for (const db of ["sqlite", "postgres"] as const) {
    test(`rules survive a restart (${db}); --config rules are imported, API rules stay`, async () => {
      const pg = db === "postgres" ? await startPostgres() : null;
      const env = pg ? { DATABASE_URL: pg.url } : undefined;
      try {
        const fileRule = { id: "from-file", ...rule(5000) };
        const first = await TestRelay.start(lab, relay, { rules: [fileRule] }, { env });
        try {
          await first.apiReady();
          expect((await first.api("POST", "/api/v1/rules", rule(5100, { id: "from-api" }))).status).toBe(201);
          expect((await first.api("PATCH", "/api/v1/rules/from-file", { name: "renamed" })).status).toBe(200);
        } finally {
          await first.stop({ keep: true });
        }
        // Same file again: from-file is updated from it (by id), from-api stays.
        const r = await TestRelay.restart(first, lab, relay, { rules: [fileRule] }, { env });
        try {
          await r.apiReady();
          const deadline = Date.now() + 3000;
          while (r.status().rules.length < 2 && Date.now() < deadline) await Bun.sleep(50);
          const rules = (await r.api("GET", "/api/v1/rules")).body.rules;
          expect(rules.map((x: any) => x.id).sort()).toEqual(["from-api", "from-file"]);
          expect(rules.find((x: any) => x.id === "from-file").name).toBeUndefined();
          expect(r.status().rules.map((x) => `${x.id}:${x.state}`).sort()).toEqual(["from-api:active", "from-file:active"]);
        } finally {
          await r.stop();
        }
      } finally {
        await pg?.stop();
      }
    }, 90_000);
  }

  test("beyond --max-rules a creation is refused with 422 and nothing is stored", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [] }, { args: ["--max-rules", "2"] });
    try {
      await r.apiReady();
      expect((await r.api("POST", "/api/v1/rules", rule(5000))).status).toBe(201);
      expect((await r.api("POST", "/api/v1/rules", rule(5001))).status).toBe(201);
      const third = await r.api("POST", "/api/v1/rules", rule(5002));
      expect(third.status).toBe(422);
      expect(third.body.issues[0].message).toMatch(/at most 2 rules/);
      expect((await r.api("GET", "/api/v1/rules")).body.rules).toHaveLength(2);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("100 concurrent creations: all stored, all applied, ids unique", async () => {
    await withRelay(async (r) => {
      const res = await Promise.all(Array.from({ length: 100 }, (_, i) => r.api("POST", "/api/v1/rules", rule(10000 + i))));
      expect(res.map((x) => x.status)).toEqual(Array(100).fill(201));
      expect(new Set(res.map((x) => x.body.id)).size).toBe(100);
      expect((await r.api("GET", "/api/v1/rules")).body.rules).toHaveLength(100);
      expect(r.status().rules.filter((x) => x.state === "active")).toHaveLength(100);
    });
  }, 60_000);
});

describe("rules take effect live", () => {
  test("add while traffic flows: forwarded within 1 s; delete: stops within 1 s", async () => {
    await withRelay(async (r) => {
      const sink = startSink(lab, dst, ["--group", "239.2.2.2", "--port", "6000", "--interface", "eth0", "--record-seqs", "--idle", "3000"]);
      await sink.ready;
      // 2,000 pps for 5 s; the rule appears at ~1 s and goes at ~3 s.
      const gen = runGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "eth0", "--rate", "2000", "--size", "200", "--count", "10000"]);
      await Bun.sleep(1000);
      const t0 = performance.now();
      const c = await r.api("POST", "/api/v1/rules", rule(5000));
      const tAdd = performance.now() - t0;
      expect(c.status).toBe(201);
      await Bun.sleep(2000);
      const t1 = performance.now();
      expect((await r.api("DELETE", `/api/v1/rules/${c.body.id}`)).status).toBe(204);
      const tDel = performance.now() - t1;
      await gen;
      const got = await sink.result;
      const seqs: number[] = got.seqs;
      // Forwarding began within 1 s of the request and ran without a gap until the delete.
      const first = seqs[0];
      const last = seqs[seqs.length - 1];
      expect(first).toBeLessThan(2000 * (1 + (tAdd + 1000) / 1000));
      expect(seqs.length).toBe(last - first + 1);
      expect(got.duplicates).toBe(0);
      // It stopped within 1 s of the delete: nothing later than ~1 s after it (sent at ~3 s).
      expect(last).toBeLessThan(2000 * (3 + (tDel + 1000) / 1000));
      expect(seqs.length).toBeGreaterThan(2000);
    });
  }, 60_000);

  test("changing rule A while rule B carries 5,000 pps: B loses nothing", async () => {
    await withRelay(async (r) => {
      const a = await r.api("POST", "/api/v1/rules", rule(5000, { name: "A" }));
      expect((await r.api("POST", "/api/v1/rules", { name: "B", input: { interface: "in0", group: "239.1.1.2", port: 5002 },
        outputs: [{ interface: "out0", group: "239.2.2.4", port: 6002 }] })).status).toBe(201);
      const bl = backlogDrops();
      const sink = startSink(lab, dst, ["--group", "239.2.2.4", "--port", "6002", "--interface", "eth0", "--expect", "15000"]);
      await sink.ready;
      const gen = runGen(lab, src, ["--group", "239.1.1.2", "--port", "5002", "--interface", "eth0", "--rate", "5000", "--size", "500", "--count", "15000"]);
      for (let i = 0; i < 6; i++) {
        await Bun.sleep(300);
        const p = await r.api("PATCH", `/api/v1/rules/${a.body.id}`, { outputs: [{ interface: "out0", group: "239.2.2.2", port: 6100 + i, ttl: 1 + i }] });
        expect(p.status).toBe(200);
      }
      expect((await r.api("DELETE", `/api/v1/rules/${a.body.id}`)).status).toBe(204);
      await gen;
      const got = await sink.result;
      expectExactlyOnce(got, 15000, r, bl);
    });
  }, 60_000);
});
