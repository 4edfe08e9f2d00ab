// A fleet: two relays, each in its own network namespace, sharing one real PostgreSQL server.
//   srcA --veth-- [in0] node a [out0] --veth-- dstA
//   srcB --veth-- [in0] node b [out0] --veth-- dstB
//   and on each node [la0] [lb0], each a veth to a namespace of its own: a link's two ends.
// Both hosts have the same interface names, as a fleet's hosts often do, so one rule for every
// node ("*") runs on both. Their APIs listen on Unix sockets in their state directories, and
// the database on a Unix socket too: no packet leaves the namespaces this test creates.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { Lab } from "../lab/netns.ts";
import { startPostgres, type TestPostgres } from "./lib/postgres.ts";
import { BUN, TestRelay, collect, expectExactlyOnce, runGen, spawnGen, startSink } from "./lib/relay.ts";
import { settled } from "./lib/settled.ts";

let lab: Lab;
let pg: TestPostgres;
const ns: Record<"a" | "b", { src: string; rly: string; dst: string }> = {} as never;
const relays: Record<"a" | "b", TestRelay> = {} as never;

const startRelay = (node: "a" | "b") => TestRelay.start(lab, ns[node].rly, { rules: [] }, { env: { DATABASE_URL: pg.url }, args: ["--node", node] });

beforeAll(async () => {
  lab = Lab.create("flt");
  for (const n of ["a", "b"] as const) {
    const src = lab.ns(`src${n}`);
    const rly = lab.ns(`rly${n}`);
    const dst = lab.ns(`dst${n}`);
    lab.veth({ ns: src, ifname: "eth0", addr: "10.99.1.2/24" }, { ns: rly, ifname: "in0", addr: "192.168.50.1/24" });
    lab.veth({ ns: rly, ifname: "out0", addr: "10.77.0.1/24" }, { ns: dst, ifname: "eth0", addr: "10.77.0.2/24" });
    lab.sh(src, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
    lab.sysctl(dst, "net.core.rmem_max", String(8 << 20));
    lab.veth({ ns: rly, ifname: "la0" }, { ns: lab.ns(`lx${n}`), ifname: "eth0" });
    lab.veth({ ns: rly, ifname: "lb0" }, { ns: lab.ns(`ly${n}`), ifname: "eth0" });
    ns[n] = { src, rly, dst };
  }
  pg = await startPostgres();
  [relays.a, relays.b] = await Promise.all([startRelay("a"), startRelay("b")]);
  await Promise.all([relays.a.apiReady(), relays.b.apiReady()]);
}, 90_000);

afterAll(async () => {
  await Promise.all([relays.a?.stop(), relays.b?.stop()]);
  await pg?.stop();
  lab?.destroy();
});

const rule = (port: number, extra: object = {}) => ({
  input: { interface: "in0", group: "239.1.1.1", port },
  outputs: [{ interface: "out0", group: "239.2.2.2", port: port + 1000 }],
  ...extra,
});
const sink = (n: "a" | "b", port: number, args: string[]) => startSink(lab, ns[n].dst, ["--group", "239.2.2.2", "--port", String(port), "--interface", "eth0", ...args]);
const gen = (n: "a" | "b", port: number, args: string[]) => ["--group", "239.1.1.1", "--port", String(port), "--interface", "eth0", "--size", "200", ...args];
/** Packets the relay sent for a rule, from its own counters. */
const sent = (n: "a" | "b", id: string) => relays[n].stats().rules.find((r) => r.id === id)?.txPackets ?? 0;
const running = (n: "a" | "b") => relays[n].status().rules.map((r) => r.id);
const nodes = async (via: "a" | "b") => {
  const r = await relays[via].api("GET", "/api/v1/nodes");
  expect(r.status).toBe(200);
  return Object.fromEntries((r.body.nodes as any[]).map((x) => [x.name, x]));
};

describe("a fleet of two relays on one PostgreSQL", () => {
  test("both nodes register: up, with version, interfaces and start; each knows which it is", async () => {
    const seen = await settled(() => nodes("a"), (n) => n.a?.state === "up" && n.b?.state === "up", 5000);
    expect(Object.keys(seen).sort()).toEqual(["a", "b"]);
    expect(seen.a).toMatchObject({ self: true, version: expect.any(String), startedAt: expect.any(String) });
    expect(seen.b.self).toBe(false);
    expect(seen.b.interfaces.find((i: any) => i.name === "in0")).toMatchObject({ state: "up", addresses: ["192.168.50.1/24"] });
    expect((await nodes("b")).b.self).toBe(true);
  }, 30_000);

  test("a rule made through node a's API for node b forwards on b within 1 s, and not on a", async () => {
    const sinkA = sink("a", 6000, ["--timeout", "5000"]);
    const sinkB = sink("b", 6000, ["--idle", "1500"]);
    await Promise.all([sinkA.ready, sinkB.ready]);
    const gens = (["a", "b"] as const).map((n) => spawnGen(lab, ns[n].src, gen(n, 5000, ["--rate", "1000"])));
    try {
      await Bun.sleep(300);
      // Watched at b's own counters while the request runs: the answer waits for b's report.
      const id = "for-b";
      const t0 = performance.now();
      const forwarded = settled(() => sent("b", id), (n) => n > 0, 2000).then(() => performance.now() - t0);
      const made = await relays.a.api("POST", "/api/v1/rules", rule(5000, { id, name: "for-b", node: "b" }));
      expect(made.status).toBe(201);
      // Answered once b reported it: in force there, at this revision.
      expect(made.body).toMatchObject({ node: "b", state: "active", nodes: [{ node: "b", state: "active", revision: made.body.revision }] });
      const forwardedAfter = await forwarded;
      expect(sent("b", id)).toBeGreaterThan(0);
      expect(forwardedAfter).toBeLessThan(1000);
      console.log(`made through a, forwarded on b ${Math.round(forwardedAfter)} ms after the request`);
      expect(running("a")).not.toContain(id);
      await Bun.sleep(1000);
    } finally {
      for (const g of gens) await g.stop();
    }
    const [gotA, gotB] = await Promise.all([sinkA.result, sinkB.result]);
    expect(gotA.unique).toBe(0);
    expect(gotB.unique).toBeGreaterThan(800);
    expect(gotB.duplicates).toBe(0);
    // Node a's API says where it runs and that it is live there; b's says the same.
    const viaB = (await relays.b.api("GET", "/api/v1/rules")).body.rules.find((r: any) => r.name === "for-b");
    expect(viaB).toMatchObject({ state: "active", nodes: [{ node: "b", state: "active" }] });
  }, 30_000);

  test('a rule for every node ("*") forwards on both; /metrics tells the nodes apart', async () => {
    const made = await relays.b.api("POST", "/api/v1/rules", rule(5001, { name: "everywhere", node: "*" }));
    expect(made.status).toBe(201);
    expect(made.body.state).toBe("active");
    expect(made.body.nodes.map((n: any) => `${n.node}:${n.state}:${n.revision === made.body.revision}`).sort()).toEqual(["a:active:true", "b:active:true"]);
    expect(running("a")).toContain(made.body.id);
    expect(running("b")).toContain(made.body.id);
    const sinks = (["a", "b"] as const).map((n) => sink(n, 6001, ["--expect", "1000"]));
    await Promise.all(sinks.map((s) => s.ready));
    await Promise.all((["a", "b"] as const).map((n) => runGen(lab, ns[n].src, gen(n, 5001, ["--rate", "2000", "--count", "1000"]))));
    const got = await Promise.all(sinks.map((s) => s.result));
    expectExactlyOnce(got[0], 1000, relays.a);
    expectExactlyOnce(got[1], 1000, relays.b);
    for (const n of ["a", "b"] as const) {
      const m = await fetch("http://relay/metrics", { headers: { authorization: `Bearer ${relays[n].token}` }, unix: relays[n].apiSocket } as RequestInit).then((r) => r.text());
      expect(m).toContain(`mcrelay_rule_tx_packets_total{node="${n}",rule="everywhere",rule_id="${made.body.id}"} 1000`);
    }
  }, 30_000);

  test("the dashboard shows the fleet: each node, its state and its rules", async () => {
    // Headless Chromium in a namespace with only loopback, through a TCP -> Unix-socket forwarder
    // to node a's API (as tests/dashboard.test.ts does).
    const ui = lab.ns("ui");
    const tmp = mkdtempSync(join(tmpdir(), "mcrelay-fleet-ui-"));
    const fwd = lab.spawn(ui, [BUN, "-e", `
      const s = Bun.serve({ hostname: "127.0.0.1", port: 0, async fetch(req) {
        const u = new URL(req.url);
        const res = await fetch("http://relay" + u.pathname + u.search, { method: req.method, headers: req.headers, body: req.body, unix: process.env.API_SOCKET, decompress: false });
        const h = new Headers(res.headers);
        for (const k of ["connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"]) h.delete(k);
        return new Response(res.body, { status: res.status, headers: h });
      } });
      console.log(s.port);`], { env: { API_SOCKET: relays.a.apiSocket } });
    const out = collect(fwd.stdout);
    const wrapper = join(tmp, "chromium-in-ns");
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ui} /usr/bin/chromium "$@"\n`);
    chmodSync(wrapper, 0o755);
    const ctx = await chromium.launchPersistentContext(join(tmp, "profile"), {
      executablePath: wrapper, headless: true, args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const port = Number((await settled(() => out.text(), (t) => /^\d+\n/.test(t), 10_000)).trim());
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.locator("#token").fill(relays.a.token);
      await page.locator("#connect").click();
      for (const n of ["a", "b"]) await page.locator(`#nodes tr[data-node="${n}"][data-state="up"]`).waitFor({ timeout: 10_000 });
      expect(await page.locator("#nodes-count").textContent()).toBe("2 of 2 up");
      expect(await page.locator('#nodes tr[data-node="a"]').textContent()).toContain("this relay");
      expect(await page.locator('#nodes tr[data-node="b"] td:nth-child(3)').textContent()).toBe("2 active"); // for-b, everywhere
      expect(await page.locator('#nodes tr[data-node="a"] td:nth-child(3)').textContent()).toBe("1 active"); // everywhere
      expect(errors).toEqual([]);
    } finally {
      await ctx.close().catch(() => {});
      fwd.kill();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);

  test("a rule node b's data plane refuses is b's error, with why; it stays stored, and b runs the rest", async () => {
    // 10.77.0.255 is the broadcast address of b's out0: b's supervisor refuses to send there.
    const bad = await relays.a.api("POST", "/api/v1/rules", rule(5005, { id: "to-broadcast", node: "b", outputs: [{ interface: "out0", group: "10.77.0.255", port: 7005 }] }));
    expect(bad.status).toBe(201);
    expect(bad.body).toMatchObject({ state: "error", nodes: [{ node: "b", state: "error", revision: bad.body.revision, reason: expect.stringContaining("broadcast address of out0") }] });
    expect(running("b")).not.toContain("to-broadcast");
    expect(running("b")).toEqual(expect.arrayContaining(["for-b"]));
    const counted = await settled(() => nodes("b"), (n) => n.b.rules.error === 1, 3000);
    expect(counted.b.rules).toMatchObject({ error: 1, pending: 0 });
    // Fixed through b's own API: now it runs.
    const fixed = await relays.b.api("PATCH", "/api/v1/rules/to-broadcast", { outputs: [{ interface: "out0", group: "239.2.2.2", port: 7005 }] });
    expect(fixed.status).toBe(200);
    expect(fixed.body).toMatchObject({ state: "active", nodes: [{ node: "b", state: "active", revision: fixed.body.revision }] });
    expect((await relays.a.api("DELETE", "/api/v1/rules/to-broadcast")).status).toBe(204);
    expect(running("b")).not.toContain("to-broadcast");
  }, 30_000);

  test("200 rules made through both APIs for both nodes converge: each runs exactly its own", async () => {
    const t0 = performance.now();
    const made = await Promise.all(Array.from({ length: 200 }, (_, i) => {
      const node = i % 2 ? "b" : "a";
      const via = i % 4 < 2 ? relays.a : relays.b; // half made through the other node's API
      return via.api("POST", "/api/v1/rules", rule(20_000 + i, { id: `bulk-${i}`, node }));
    }));
    expect(made.map((r) => r.status)).toEqual(Array(200).fill(201));
    const want = (n: "a" | "b") => made.map((r) => r.body).filter((r) => r.node === n || r.node === "*").map((r) => r.id);
    for (const n of ["a", "b"] as const) {
      const got = await settled(() => running(n).filter((id) => id.startsWith("bulk-")).sort(), (ids) => ids.length === 100, 10_000);
      expect(got).toEqual(want(n).sort());
    }
    // Both APIs agree that every one is live where it should be, at its current revision.
    for (const via of ["a", "b"] as const) {
      const rules = await settled(async () => (await relays[via].api("GET", "/api/v1/rules")).body.rules.filter((r: any) => r.id.startsWith("bulk-")),
        (rs: any[]) => rs.every((r) => r.nodes.length === 1 && r.nodes[0].state === "active" && r.nodes[0].revision === r.revision), 10_000);
      expect(rules.filter((r: any) => !(r.nodes[0].node === r.node && r.nodes[0].state === "active" && r.nodes[0].revision === r.revision))).toEqual([]);
    }
    const counts = await settled(() => nodes("a"), (n) => n.a.rules.pending === 0 && n.b.rules.pending === 0, 5000);
    expect(counts.a.rules).toMatchObject({ active: 101, pending: 0, error: 0 }); // and "everywhere"
    expect(counts.b.rules).toMatchObject({ active: 102, pending: 0, error: 0 }); // and "for-b", "everywhere"
    console.log(`200 rules on two nodes converged in ${Math.round(performance.now() - t0)} ms`);
    // Gone again, from both.
    const gone = await Promise.all(made.map((r, i) => (i % 2 ? relays.a : relays.b).api("DELETE", `/api/v1/rules/${r.body.id}`)));
    expect(gone.map((r) => r.status)).toEqual(Array(200).fill(204));
    for (const n of ["a", "b"] as const) expect(await settled(() => running(n).filter((id) => id.startsWith("bulk-")), (ids) => ids.length === 0, 10_000)).toEqual([]);
  }, 90_000);

  test("links as rules: one made through a for b runs on b only, reported per node; interfaces are per node; counted in /api/v1/nodes", async () => {
    const links = (n: "a" | "b") => (relays[n].status().links ?? []).map((l) => l.id);
    // Made through a's API for node b: answered once b reported it, in force there only.
    const made = await relays.a.api("POST", "/api/v1/links", { id: "lab-b", a: "la0", b: "lb0", node: "b", aToB: { delayMs: 1 } });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ node: "b", state: "active", nodes: [{ node: "b", state: "active", revision: made.body.revision }] });
    // status.json is written a moment after the supervisor answers (writes are coalesced)
    expect(await settled(() => links("b"), (ids) => ids.includes("lab-b"), 3000)).toContain("lab-b");
    expect(links("a")).not.toContain("lab-b");
    // Node a's own link on its own la0 and lb0: no clash with b's; one for every node clashes with both.
    const mine = await relays.b.api("POST", "/api/v1/links", { id: "lab-a", a: "la0", b: "lb0", node: "a" });
    expect(mine.status).toBe(201);
    expect(mine.body).toMatchObject({ state: "active", nodes: [{ node: "a", state: "active", revision: mine.body.revision }] });
    expect(await settled(() => links("a"), (ids) => ids.includes("lab-a"), 3000)).toContain("lab-a");
    const every = await relays.a.api("POST", "/api/v1/links", { a: "lb0", b: "x0", node: "*" });
    expect([every.status, every.body.issues?.[0]?.path]).toEqual([409, ["a"]]);
    expect(every.body.issues[0].message).toContain("it runs on node");
    // in0 is the input of "everywhere" on every node: a link of node b may not take it, nor a rule b's link's end.
    const onInput = await relays.b.api("POST", "/api/v1/links", { a: "in0", b: "x0", node: "b" });
    expect([onInput.status, onInput.body.issues?.[0]?.path]).toEqual([409, ["a"]]);
    const onLink = await relays.a.api("POST", "/api/v1/rules", rule(5009, { node: "b", input: { interface: "la0", group: "239.1.1.1", port: 5009 } }));
    expect([onLink.status, onLink.body.issues?.[0]?.path]).toEqual([409, ["input", "interface"]]);
    // Both APIs see each link live where it runs, at its revision; the nodes count their links.
    for (const via of ["a", "b"] as const) {
      const all = (await relays[via].api("GET", "/api/v1/links")).body.links;
      expect(all.map((l: any) => `${l.id}@${l.nodes.map((n: any) => `${n.node}:${n.state}:${n.revision === l.revision}`).join(",")}`).sort())
        .toEqual(["lab-a@a:active:true", "lab-b@b:active:true"]);
    }
    const counts = await settled(() => nodes("b"), (n) => n.a.links.active === 1 && n.b.links.active === 1, 5000);
    expect([counts.a.links, counts.b.links].map((c: any) => [c.active, c.pending, c.error])).toEqual([[1, 0, 0], [1, 0, 0]]);
    // Moved from b to a, then deleted through the other node: each node runs what is its own.
    const moved = await relays.a.api("PATCH", "/api/v1/links/lab-b", { node: "*", a: "la1" });
    expect(moved.status).toBe(409); // la1 is free, but lb0 is lab-a's on node a
    expect((await relays.b.api("DELETE", "/api/v1/links/lab-a")).status).toBe(204);
    expect(await settled(() => links("a"), (ids) => !ids.includes("lab-a"), 3000)).not.toContain("lab-a");
    expect((await relays.a.api("DELETE", "/api/v1/links/lab-b")).status).toBe(204);
    expect(await settled(() => links("b"), (ids) => !ids.includes("lab-b"), 3000)).not.toContain("lab-b");
  }, 30_000);

  test("PostgreSQL down: both keep forwarding, writes get 503 naming the store, nothing is stored; back: a new change propagates", async () => {
    const sinks = (["a", "b"] as const).map((n) => sink(n, 6001, ["--expect", "3000"]));
    await Promise.all(sinks.map((s) => s.ready));
    // 3,000 packets over 3 s on each node through "everywhere"; the database stops in the middle.
    const gens = (["a", "b"] as const).map((n) => runGen(lab, ns[n].src, gen(n, 5001, ["--rate", "1000", "--count", "3000"])));
    await Bun.sleep(500);
    pg.pause();
    try {
      for (const via of ["a", "b"] as const) {
        const w = await relays[via].api("POST", "/api/v1/rules", rule(5002, { name: "meanwhile", node: "b" }));
        expect(w.status).toBe(503);
        expect(w.body.error).toMatch(/rule store \(PostgreSQL mcrelay_test on \/tmp\/mcrelay-pg-\w+\) cannot be reached/);
        expect((await relays[via].api("GET", "/api/v1/nodes")).status).toBe(503);
      }
      // An API that restarts meanwhile (killed here) waits for the store rather than giving up.
      process.kill(relays.a.status().api!.pid, "SIGKILL");
      const got = await Promise.all(sinks.map((s) => s.result));
      await Promise.all(gens);
      expectExactlyOnce(got[0], 3000, relays.a);
      expectExactlyOnce(got[1], 3000, relays.b);
    } finally {
      pg.resume();
    }
    await relays.a.apiReady();
    expect(relays.a.logs()).toContain("mcrelay api: waiting for the PostgreSQL server (PostgreSQL mcrelay_test on /tmp/mcrelay-pg-");
    // Both nodes beat again (a beat newer than the outage), and the change made meanwhile was stored nowhere.
    const fresh = (x: any) => x?.state === "up" && x.lastSeenMs < 1500;
    const beating = await settled(() => nodes("a").catch(() => ({}) as any), (n) => fresh(n.a) && fresh(n.b), 10_000);
    expect([fresh(beating.a), fresh(beating.b)]).toEqual([true, true]);
    for (const via of ["a", "b"] as const) {
      const all = (await relays[via].api("GET", "/api/v1/rules")).body.rules;
      expect(all.map((r: any) => r.name)).not.toContain("meanwhile");
      expect(all.map((r: any) => r.name).sort()).toEqual(["everywhere", "for-b"]);
    }
    expect(relays.b.status().rules.some((r) => r.name === "meanwhile")).toBe(false);
    // A change after the recovery reaches node b.
    const t0 = performance.now();
    const after = await relays.a.api("POST", "/api/v1/rules", rule(5003, { name: "after", node: "b" }));
    expect(after.status).toBe(201);
    await settled(() => running("b"), (ids) => ids.includes(after.body.id), 3000);
    expect(running("b")).toContain(after.body.id);
    expect(performance.now() - t0).toBeLessThan(2000);
  }, 60_000);

  test("node b killed: a is unaffected, b turns stale then down; back, it runs what was made for it meanwhile", async () => {
    const b = relays.b;
    b.proc.kill("SIGKILL");
    await b.proc.exited;
    const killedAt = Date.now();
    const stale = await settled(() => nodes("a"), (n) => n.b.state !== "up", 10_000);
    expect(stale.b.state).toBe("stale");
    expect(stale.a.state).toBe("up");
    // Node a forwards on, and takes changes, while b is away.
    const s = sink("a", 6001, ["--expect", "500"]);
    await s.ready;
    await runGen(lab, ns.a.src, gen("a", 5001, ["--rate", "1000", "--count", "500"]));
    expectExactlyOnce(await s.result, 500, relays.a);
    const made = await relays.a.api("POST", "/api/v1/rules", rule(5004, { name: "while-b-away", node: "b" }));
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ state: "pending", nodes: [{ node: "b", state: "pending", reason: expect.stringMatching(/node b is (stale|down)/) }] });
    const down = await settled(() => nodes("a"), (n) => n.b.state === "down", 20_000);
    expect(down.b.state).toBe("down");
    expect(Date.now() - killedAt).toBeGreaterThan(5000); // stale first, for a while
    // b returns (same state directory): it takes the store's rules for it, the one made meanwhile too.
    relays.b = await TestRelay.restart(b, lab, ns.b.rly, { rules: [] }, { env: { DATABASE_URL: pg.url }, args: ["--node", "b"] });
    await relays.b.apiReady();
    const ids = await settled(() => running("b"), (x) => x.includes(made.body.id), 5000);
    expect(ids).toContain(made.body.id);
    const back = await settled(() => nodes("a"), (n) => n.b.state === "up" && n.b.rules.pending === 0, 5000);
    expect(back.b).toMatchObject({ state: "up", rules: { pending: 0, error: 0 } });
    const viaA = await settled(async () => (await relays.a.api("GET", `/api/v1/rules/${made.body.id}`)).body, (r) => r.state === "active", 3000);
    expect(viaA.nodes).toEqual([expect.objectContaining({ node: "b", state: "active", revision: made.body.revision })]);
  }, 90_000);
});

describe("with SQLite: a fleet of one", () => {
  test("GET /api/v1/nodes lists this relay; a rule or link for another node is refused, naming node; for it or every node, taken", async () => {
    const solo = lab.ns("solo");
    lab.veth({ ns: solo, ifname: "in0", addr: "192.168.60.1/24" }, { ns: solo, ifname: "in0p" });
    const r = await TestRelay.start(lab, solo, { rules: [] }, { args: ["--node", "solo"] });
    try {
      await r.apiReady();
      const n = (await r.api("GET", "/api/v1/nodes")).body.nodes;
      expect(n).toEqual([expect.objectContaining({ name: "solo", state: "up", self: true, interfaces: expect.arrayContaining([expect.objectContaining({ name: "in0" })]) })]);
      const other = await r.api("POST", "/api/v1/rules", { ...rule(5000, { node: "b" }), outputs: [{ interface: "in0p", group: "239.2.2.2", port: 6000 }] });
      expect(other.status).toBe(422);
      expect(other.body.issues).toEqual([{ path: ["node"], message: expect.stringContaining("SQLite") }]);
      expect((await r.api("GET", "/api/v1/rules")).body.rules).toEqual([]);
      for (const node of ["solo", "*"]) {
        const ok = await r.api("POST", "/api/v1/rules", { ...rule(node === "*" ? 5001 : 5002, { node }), outputs: [{ interface: "in0p", group: "239.2.2.2", port: 6000 }] });
        expect(ok.status).toBe(201);
        expect(ok.body.state).toBe("active");
        expect(ok.body.nodes).toBeUndefined();
      }
      // A change the data plane refuses is undone: the rule stays as it was (an undo of a PUT or
      // PATCH once failed on the server's own fields and left the refused change stored).
      const before = (await r.api("GET", "/api/v1/rules")).body.rules[0];
      const refused = await r.api("PATCH", `/api/v1/rules/${before.id}`, { outputs: [{ interface: "in0", group: "192.168.60.255", port: 7000 }] });
      expect(refused.status).toBe(422);
      expect(refused.body.issues[0].message).toContain("broadcast address of in0");
      expect((await r.api("GET", `/api/v1/rules/${before.id}`)).body).toEqual(before);
      // A link the same way: for another node refused, naming node; for this one taken (and waiting: no such interfaces here).
      const otherLink = await r.api("POST", "/api/v1/links", { a: "sa0", b: "sb0", node: "b" });
      expect([otherLink.status, otherLink.body.issues]).toEqual([422, [{ path: ["node"], message: expect.stringContaining("a link for node b would never run") }]]);
      const own = await r.api("POST", "/api/v1/links", { a: "sa0", b: "sb0", node: "solo" });
      expect([own.status, own.body.state, own.body.nodes]).toEqual([201, "waiting", undefined]);
      expect((await r.api("GET", "/api/v1/nodes")).body.nodes[0].links).toMatchObject({ waiting: 1, error: 0 });
    } finally {
      await r.stop();
    }
  }, 30_000);
});
