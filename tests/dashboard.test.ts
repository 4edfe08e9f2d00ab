// The dashboard (GET /, /api/v1/events) and `mcrelay top` against a real relay with traffic:
//   src --veth-- relay --veth-- dst;  lx --veth-- [la0 relay lb0] --veth-- ly (for a link);
//   ui: a namespace with only loopback, where a headless
//   Chromium (Debian's, driven by playwright-core) talks to a small TCP -> Unix-socket forwarder
//   in front of the relay's API socket. No packet leaves the namespaces this test creates.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { OpenAPIHono } from "@hono/zod-openapi";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { Lab } from "../lab/netns.ts";
import type { ApiDeps } from "../services/api/app.ts";
import { mountDashboard } from "../services/api/dashboard/index.ts";
import { metric, metricsText } from "./lib/metrics.ts";
import { BUN, ROOT, TestRelay, collect, spawnGen, startSink } from "./lib/relay.ts";
import { settled } from "./lib/settled.ts";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = join(ROOT, "bench", "results", "dashboard.png");

let lab: Lab;
let src: string, rly: string, ui: string;
let r: TestRelay;
let tmp: string;
const gens: ReturnType<typeof spawnGen>[] = [];

const config = {
  rules: [
    { id: "feed-a", name: "feed-a", input: { interface: "in0", group: "239.1.1.1", port: 5000 },
      outputs: [{ interface: "out0", group: "239.2.2.2", port: 6000, ttl: 4 }, { interface: "out0", group: "239.2.2.3", port: 6001, ttl: 8, dscp: 46 }] },
    // out9 never appears: this rule waits, and the page says why.
    { id: "feed-b", name: "feed-b", input: { interface: "in0", group: "239.1.1.2", port: 5002 },
      outputs: [{ interface: "out9", group: "239.3.3.3", port: 6002 }] },
  ],
};

beforeAll(async () => {
  lab = Lab.create("dsh");
  src = lab.ns("src");
  rly = lab.ns("rly");
  const dst = lab.ns("dst");
  ui = lab.ns("ui");
  lab.veth({ ns: src, ifname: "eth0", addr: "10.99.1.2/24" }, { ns: rly, ifname: "in0", addr: "192.168.50.1/24" });
  lab.veth({ ns: rly, ifname: "out0", addr: "10.77.0.1/24" }, { ns: dst, ifname: "eth0", addr: "10.77.0.2/24" });
  lab.sh(src, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
  tmp = mkdtempSync(join(tmpdir(), "mcrelay-dash-test-"));
  r = await TestRelay.start(lab, rly, config);
  await r.apiReady();
  // A few thousand pps through feed-a, and a trickle to a port no rule takes (no_rule drops).
  gens.push(spawnGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "eth0", "--rate", "3000", "--size", "400"]));
  gens.push(spawnGen(lab, src, ["--group", "239.1.1.9", "--port", "5999", "--interface", "eth0", "--rate", "50", "--size", "100"]));
  // Wait until the API's rates show the traffic.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const s = await r.api("GET", "/api/v1/stats");
    if (s.status === 200 && s.body.rules.find((x: any) => x.id === "feed-a")?.rxPps > 100) break;
    if (Date.now() > deadline) throw new Error(`no traffic through feed-a: ${JSON.stringify(s.body)}\n${r.logs()}`);
    await Bun.sleep(200);
  }
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  for (const g of gens) await g.stop().catch(() => {});
  await r?.stop();
  lab?.destroy();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Reads an SSE stream until the first `event: name`; returns its parsed data. */
async function firstEvent(res: Response, name: string, ms = 10_000): Promise<any> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = "";
  const deadline = Date.now() + ms;
  try {
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      for (const block of buf.split("\n\n").slice(0, -1)) {
        const lines = block.split("\n");
        if (lines.includes(`event: ${name}`)) return JSON.parse(lines.filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n"));
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  throw new Error(`no "${name}" event; got: ${buf.slice(0, 500)}`);
}

const events = (query = "", headers: Record<string, string> = {}, signal?: AbortSignal) =>
  fetch(`http://relay/api/v1/events${query}`, { headers, unix: r.apiSocket, signal } as RequestInit);

describe("event stream", () => {
  test("no token or a wrong one: 401; ?token= or the bearer header: stats events", async () => {
    for (const [q, h] of [["", {}], ["?token=not-the-token", {}], ["", { authorization: "Bearer not-the-token" }], ["?token=", {}]] as const) {
      const res = await events(q, h);
      expect({ q, h, status: res.status }).toEqual({ q, h, status: 401 });
      expect(((await res.json()) as { error: string }).error).toMatch(/unauthorized/);
    }
    const res = await events(`?token=${encodeURIComponent(r.token)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const ev = await firstEvent(res, "stats");
    const a = ev.rules.find((x: any) => x.id === "feed-a");
    expect(a).toMatchObject({ name: "feed-a", state: "active", input: { interface: "in0", group: "239.1.1.1", port: 5000 } });
    expect(a.outputs).toHaveLength(2);
    expect(a.rxPps).toBeGreaterThan(0);
    expect(a.txPps).toBeGreaterThan(a.rxPps); // two outputs
    expect(ev.rules.find((x: any) => x.id === "feed-b")).toMatchObject({ state: "waiting", reason: expect.stringContaining("out9") });
    expect(ev.workers).toHaveLength(1);
    expect(ev.drops.no_rule).toBeGreaterThan(0);
    expect(ev.status.workers.map((w: any) => w.role).sort()).toEqual(["egress", "ingress"]);
    expect(ev.status.workers.every((w: any) => w.pid > 0 && w.restarts === 0)).toBe(true);
    expect(ev.interfaces.map((i: any) => i.name)).toEqual(expect.arrayContaining(["in0", "out0"]));

    const hdr = await events("", { authorization: `Bearer ${r.token}` });
    expect(hdr.status).toBe(200);
    expect((await firstEvent(hdr, "stats")).rules.map((x: any) => x.id).sort()).toEqual(["feed-a", "feed-b"]);
  }, 30_000);

  test("one event a second while connected", async () => {
    const ac = new AbortController();
    const res = await events(`?token=${encodeURIComponent(r.token)}`, {}, ac.signal);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = "";
    const t0 = Date.now();
    while (Date.now() - t0 < 3300) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
    ac.abort();
    const n = text.split("\n").filter((l) => l === "event: stats").length;
    expect(n).toBeGreaterThanOrEqual(3);
    expect(n).toBeLessThanOrEqual(5);
  }, 15_000);

  test("the page and its assets need no token, carry no data, and are served locally", async () => {
    const page = await fetch("http://relay/", { unix: r.apiSocket } as RequestInit);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("<title>mcrelay</title>");
    expect(html).not.toContain(r.token);
    expect(html).not.toMatch(/https?:\/\//); // no CDN
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    for (const f of ["dashboard.js", "editor.js", "dashboard.css"]) {
      const a = await fetch(`http://relay/dashboard/${f}`, { unix: r.apiSocket } as RequestInit);
      expect(a.status).toBe(200);
      expect(await a.text()).not.toMatch(/https?:\/\/(?!localhost)/);
    }
    expect((await fetch("http://relay/dashboard/..%2Findex.ts", { unix: r.apiSocket } as RequestInit)).status).toBe(404);
    const doc = await r.api("GET", "/openapi.json", undefined, { auth: false });
    expect(doc.body.paths["/api/v1/events"].get.responses["200"].content["text/event-stream"]).toBeDefined();
  });
});

describe("mountDashboard", () => {
  test("the event loop stops when the client disconnects", async () => {
    // The app alone, on a Unix socket: no relay needed to count how often the loop asks for data.
    let calls = 0;
    const deps = {
      token: "t".repeat(20), store: { list: async () => [] }, sync: async () => true,
      status: async () => (calls++, null), interfaces: async () => null, stats: async () => null,
    } as unknown as ApiDeps;
    const app = new OpenAPIHono();
    const dash = mountDashboard(app, deps, { intervalMs: 100 });
    const sock = join(tmp, "dash.sock");
    const server = Bun.serve({ unix: sock, fetch: app.fetch });
    try {
      const ac = new AbortController();
      const res = await fetch(`http://x/api/v1/events?token=${"t".repeat(20)}`, { unix: sock, signal: ac.signal } as RequestInit);
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      let text = "";
      while ((text.match(/event: stats/g) ?? []).length < 3) text += dec.decode((await reader.read()).value);
      expect(dash.streams()).toBe(1);
      expect(JSON.parse(text.split("\n").find((l) => l.startsWith("data: "))!.slice(6))).toMatchObject({ dataPlane: false, rules: [], status: null });
      ac.abort();
      await reader.cancel().catch(() => {});
      const deadline = Date.now() + 3000;
      while (dash.streams() > 0 && Date.now() < deadline) await Bun.sleep(20);
      expect(dash.streams()).toBe(0);
      const after = calls;
      await Bun.sleep(500);
      expect(calls).toBe(after);
    } finally {
      server.stop(true);
    }
  }, 15_000);
});

let browser: BrowserContext | null = null;
let uiPort = 0;
const ctx = () => browser!;
const port = () => uiPort;
const num = async (page: Page, sel: string) => Number(await page.locator(sel).first().getAttribute("data-value"));
/** Waits until the number an element shows (its data-value) passes test. (Polled from here: the
 *  page's CSP forbids the eval that a string predicate in the page would need.) */
async function untilValue(page: Page, sel: string, test: (n: number) => boolean, ms = 15_000): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const n = (await page.locator(sel).count()) ? await num(page, sel) : NaN;
    if (test(n)) return n;
    if (Date.now() > deadline) throw new Error(`${sel}: ${n} after ${ms} ms`);
    await Bun.sleep(200);
  }
}

describe("browser", () => {

  beforeAll(async () => {
    // TCP on the ui namespace's loopback -> the relay's API socket (Unix sockets cross namespaces).
    const fwd = lab.spawn(ui, [BUN, "-e", `
      const sock = process.env.API_SOCKET;
      const hop = ["connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"];
      const s = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, async fetch(req) {
        const u = new URL(req.url);
        const res = await fetch("http://relay" + u.pathname + u.search, { method: req.method, headers: req.headers,
          body: req.body, unix: sock, signal: req.signal, redirect: "manual", decompress: false });
        const h = new Headers(res.headers);
        for (const k of hop) h.delete(k);
        return new Response(res.body, { status: res.status, headers: h });
      } });
      console.log(s.port);`], { env: { API_SOCKET: r.apiSocket } });
    const out = collect(fwd.stdout);
    const deadline = Date.now() + 10_000;
    while (!/^\d+\n/.test(out.text())) {
      if (fwd.exitCode !== null || Date.now() > deadline) throw new Error(`forwarder did not start: ${out.text()}`);
      await Bun.sleep(20);
    }
    uiPort = Number(out.text().trim());
    // Chromium runs inside the ui namespace: it can reach that loopback and nothing else.
    const wrapper = join(tmp, "chromium-in-ns");
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ui} ${CHROMIUM} "$@"\n`);
    chmodSync(wrapper, 0o755);
    browser = await chromium.launchPersistentContext(join(tmp, "profile"), {
      executablePath: wrapper, headless: true, viewport: { width: 1280, height: 800 },
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 60_000);

  const num = async (page: Page, sel: string) => Number(await page.locator(sel).first().getAttribute("data-value"));
  const shown = async (page: Page, sel: string) => Number((await page.locator(sel).first().textContent())!.replace(/[^\d.]/g, ""));

  test("token once, live rates per rule, drops, workers, interfaces; screenshot", async () => {
    const page = ctx().pages()[0] ?? (await ctx().newPage());
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => m.type() === "error" && !/401/.test(m.text()) && errors.push(m.text()));
    await page.goto(`http://127.0.0.1:${port()}/`);

    // A wrong token is refused on the spot; the right one is kept.
    await page.locator("#token").fill("not-the-token-at-all");
    await page.locator("#connect").click();
    await page.locator("#login-error").filter({ hasText: "does not accept" }).waitFor({ timeout: 10_000 });
    await page.locator("#token").fill(r.token);
    await page.locator("#connect").click();
    const row = 'tr[data-rule="feed-a"]';
    await page.locator(row).waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => localStorage.getItem("mcrelay.token"))).toBe(r.token);
    await page.locator("#login").waitFor({ state: "hidden" });
    expect(await page.locator("#conn").textContent()).toBe("live");

    // The numbers move while traffic flows.
    // (a string: the test's tsconfig has no DOM types)
    await page.waitForFunction(`Number(document.querySelector('${row} td.rx-pps')?.getAttribute("data-value")) > 0`, null, { timeout: 10_000 });
    const rx1 = await num(page, `${row} td.rx-pps`);
    const tx1 = await num(page, `${row} td.tx-pps`);
    const total1 = await shown(page, '[data-stat="rx-pps"] .sub');
    await Bun.sleep(2200);
    const rx2 = await num(page, `${row} td.rx-pps`);
    const tx2 = await num(page, `${row} td.tx-pps`);
    const total2 = await shown(page, '[data-stat="rx-pps"] .sub');
    expect(rx1).toBeGreaterThan(0);
    expect(rx2).toBeGreaterThan(0);
    expect(rx2).not.toBe(rx1);
    expect(tx2).not.toBe(tx1);
    expect(total2).toBeGreaterThan(total1); // packets received so far
    expect(await shown(page, `${row} td.rx-pps`)).toBeGreaterThan(100); // as displayed: 3,000-ish
    expect(await page.locator(`${row} td.rx-bps`).textContent()).toMatch(/[kM]bit\/s/);
    expect(await page.locator(`${row} .route`).textContent()).toContain("in0 239.1.1.1:5000");

    // The waiting rule, drops by reason, the worker pair, the interfaces.
    expect(await page.locator('tr[data-rule="feed-b"]').textContent()).toMatch(/waiting.*out9/);
    expect(await page.locator("#drops").textContent()).toContain("no_rule");
    const st = r.status();
    const w0 = await page.locator('tr[data-worker="0"]').textContent();
    for (const w of st.workers) expect(w0).toContain(String(w.pid));
    expect(await page.locator("#workers thead").textContent()).toContain("Ingress loop"); // loop utilisation
    expect(w0).toMatch(/\d+%/);
    expect(await page.locator('tr[data-interface="in0"]').textContent()).toContain("192.168.50.1/24");
    expect(await page.locator('tr[data-interface="out0"]').textContent()).toContain("10.77.0.1/24");

    // A few more seconds of history for the charts, then the picture.
    await Bun.sleep(6000);
    mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(20_000);

    // Reloading needs no token: it is in local storage.
    await page.reload();
    await page.locator(row).waitFor({ timeout: 15_000 });
    expect(await page.locator("#login").isHidden()).toBe(true);
    expect(errors).toEqual([]);
  }, 90_000);
});

describe("editing from the page", () => {
  test("a bad TTL is shown at its field; fixed, the rule forwards; a loss slider makes drops; delete asks first; a wrong token is said", async () => {
    const page = await ctx().newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    // A stream for the rule the page will make (dropped as no_rule until then).
    gens.push(spawnGen(lab, src, ["--group", "239.1.1.5", "--port", "5005", "--interface", "eth0", "--rate", "1000", "--size", "200"]));
    await page.goto(`http://127.0.0.1:${port()}/`);
    await page.locator('tr[data-rule="feed-a"]').waitFor({ timeout: 15_000 }); // the token is remembered

    await page.locator('button[data-action="new"][data-kind="rule"]').click();
    const form = page.locator("#editor form");
    const field = (path: string) => form.locator(`[data-path="${path}"]`);
    for (const [path, value] of [["id", "ui-made"], ["name", "made in the browser"], ["input.interface", "in0"], ["input.group", "239.1.1.5"],
      ["input.port", "5005"], ["outputs.0.interface", "out0"], ["outputs.0.group", "239.2.2.9"], ["outputs.0.port", "6009"], ["outputs.0.ttl", "300"]]) {
      await field(path).fill(value);
    }
    await form.locator('[data-action="save"]').click();
    // The API's message, at the field it names; nothing stored.
    await form.locator('[data-error-for="outputs.0.ttl"]').filter({ hasText: "ttl must be 1–255" }).waitFor({ timeout: 10_000 });
    expect(await field("outputs.0.ttl").getAttribute("aria-invalid")).toBe("true");
    expect(await form.locator('[data-error-for="outputs.0.port"]').textContent()).toBe("");
    expect((await r.api("GET", "/api/v1/rules/ui-made")).status).toBe(404);
    await page.screenshot({ path: join(ROOT, "bench", "results", "dashboard-editor.png") });

    await field("outputs.0.ttl").fill("4");
    await form.locator('[data-action="save"]').click();
    await page.locator("#editor").waitFor({ state: "hidden", timeout: 10_000 });
    const row = 'tr[data-rule="ui-made"]';
    await page.locator(row).waitFor({ timeout: 10_000 });
    await untilValue(page, `${row} td.tx-pps`, (n) => n > 100);
    expect(await page.locator(row).textContent()).toContain("active");
    expect((await r.api("GET", "/api/v1/rules/ui-made")).body.outputs[0]).toMatchObject({ ttl: 4, group: "239.2.2.9" });

    // Moving the loss slider (by keyboard, as a person can) applies it to the running rule.
    const dropsBefore = await num(page, `${row} td.drops`);
    await page.locator(`${row} button[data-action="edit"]`).click();
    // The edit form, not the create form still in the closed dialog until the rule has been fetched.
    const edit = page.locator('#editor form[data-editing="ui-made"]');
    await edit.waitFor({ timeout: 10_000 });
    const slider = edit.locator('[data-slider-for="impairment.loss"]');
    await slider.focus();
    for (let i = 0; i < 50; i++) await page.keyboard.press("ArrowRight");
    const live = edit.locator(".live-status").filter({ hasText: /impairment (not )?applied/ });
    await live.waitFor({ timeout: 20_000 });
    expect({ status: await live.textContent(), issues: await edit.locator(".field-error, .form-error").allTextContents() })
      .toMatchObject({ status: "impairment applied" });
    expect(await edit.locator('[data-path="impairment.loss"]').inputValue()).toBe("0.5");
    expect((await r.api("GET", "/api/v1/rules/ui-made")).body.impairment).toEqual({ loss: 0.5 });
    await edit.locator('[data-action="cancel"]').click();
    // About half of 1,000 pps is now dropped: the page's drop counter for the rule climbs.
    await untilValue(page, `${row} td.drops`, (n) => n > dropsBefore + 500);
    expect(await page.locator(`${row} td.drops`).getAttribute("title")).toContain("impairment");

    // Delete asks first: keeping it keeps it; confirming removes it.
    await page.locator(`${row} button[data-action="delete"]`).click();
    const confirm = page.locator("#confirm");
    expect(await confirm.locator("h2").textContent()).toBe("Delete rule made in the browser?");
    await confirm.locator('[data-action="cancel"]').click();
    await Bun.sleep(300);
    expect((await r.api("GET", "/api/v1/rules/ui-made")).status).toBe(200);
    await page.locator(`${row} button[data-action="delete"]`).click();
    await confirm.locator('[data-action="confirm-delete"]').click();
    await page.locator(row).waitFor({ state: "detached", timeout: 10_000 });
    expect((await r.api("GET", "/api/v1/rules/ui-made")).status).toBe(404);

    // A token the relay no longer takes: the page says so and asks for it, not a blank page.
    await page.evaluate(() => localStorage.setItem("mcrelay.token", "wrong-token-wrong-token"));
    await page.reload();
    await page.locator("#login-error").filter({ hasText: "no longer accepts the stored token" }).waitFor({ timeout: 10_000 });
    expect(await page.locator("#token").isVisible()).toBe(true);
    await page.locator("#token").fill(r.token);
    await page.locator("#connect").click();
    await page.locator('tr[data-rule="feed-a"]').waitFor({ timeout: 15_000 });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});

describe("links on the page", () => {
  const LINK = "ui-lab";
  const linkGens: ReturnType<typeof spawnGen>[] = [];
  /** A way's own row (frames no flow took) and the flow "bulk"'s row. */
  const own = (dir: string, id = LINK) => `#links tr[data-link="${id}"][data-direction="${dir}"]:not([data-flow])`;
  const bulk = `#links tr[data-link="${LINK}"][data-direction="aToB"][data-flow="bulk"]`;
  const linkStats = async () => (await r.api("GET", "/api/v1/stats")).body.links.find((l: any) => l.id === LINK);
  /** A new tab on the board (the token is remembered), once it shows the running link; its page errors. */
  async function board(): Promise<{ page: Page; errors: string[] }> {
    const page = await ctx().newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${port()}/`);
    await page.locator(own("aToB")).waitFor({ timeout: 15_000 });
    return { page, errors };
  }

  beforeAll(async () => {
    const lx = lab.ns("lx"), ly = lab.ns("ly");
    lab.veth({ ns: lx, ifname: "eth0", addr: "10.60.0.1/24" }, { ns: rly, ifname: "la0" });
    lab.veth({ ns: rly, ifname: "lb0" }, { ns: ly, ifname: "eth0", addr: "10.60.0.2/24" });
    const c = await r.api("POST", "/api/v1/links", { id: LINK, name: "ui lab", a: "la0", b: "lb0", flows: [{ name: "bulk", match: { protocol: "udp", ports: "7400" } }] });
    expect([c.status, c.body.state]).toEqual([201, "active"]);
    // Receivers for every stream (else ICMP port unreachable ends the senders); lab.destroy() ends them.
    const sinks = ([[ly, "10.60.0.2", 7400], [ly, "10.60.0.2", 7401], [lx, "10.60.0.1", 7402]] as const)
      .map(([ns, addr, p]) => startSink(lab, ns, ["--group", addr, "--port", String(p), "--timeout", "600000", "--idle", "600000"]));
    for (const k of sinks) k.result.catch(() => {});
    await Promise.all(sinks.map((k) => k.ready));
    // The busiest: 800 pps a → b in the flow "bulk"; a trickle each way that no flow takes.
    linkGens.push(spawnGen(lab, lx, ["--group", "10.60.0.2", "--port", "7400", "--rate", "800", "--size", "300"]));
    linkGens.push(spawnGen(lab, lx, ["--group", "10.60.0.2", "--port", "7401", "--rate", "150", "--size", "100"]));
    linkGens.push(spawnGen(lab, ly, ["--group", "10.60.0.1", "--port", "7402", "--rate", "150", "--size", "100"]));
    const s = await settled(linkStats, (l) => l?.aToB.flows[0].rxPackets > 100 && l.bToA.rxPackets > 20, 15_000);
    if (!(s?.aToB.flows[0].rxPackets > 100)) throw new Error(`no traffic over the link: ${JSON.stringify(s)}\n${r.logs()}`);
  }, 60_000);

  afterAll(async () => {
    for (const g of linkGens) await g.stop().catch(() => {});
    await r?.api("DELETE", `/api/v1/links/${LINK}`).catch(() => {});
  });

  test("each way's counters move while traffic crosses; the flow top names the busiest flow; screenshot", async () => {
    const { page, errors } = await board();
    expect(await page.locator("#links-card").isVisible()).toBe(true);
    expect(await page.locator(own("aToB")).textContent()).toMatch(/^ui lab\s*active\s*a → b/);
    // Every way moves: a → b's own and its flow's, b → a's own; in and out alike.
    const cells = [`${own("aToB")} td.rx`, `${own("aToB")} td.tx`, `${bulk} td.rx`, `${bulk} td.tx`, `${own("bToA")} td.rx`, `${own("bToA")} td.tx`];
    const before = await Promise.all(cells.map((sel) => num(page, sel)));
    for (const [i, sel] of cells.entries()) {
      const step = sel.startsWith(bulk) ? 800 : 100;
      expect({ sel, moved: (await untilValue(page, sel, (n) => n >= before[i]! + step)) >= before[i]! + step }).toEqual({ sel, moved: true });
    }
    expect(await num(page, `${own("bToA")} td.drops`)).toBe(0);

    // The flow top's first row: the 800 pps stream, with the flow entry it matched.
    const first = page.locator("#flowtop tbody tr").first();
    const deadline = Date.now() + 15_000;
    const firstText = async () => ((await page.locator("#flowtop tbody tr").count()) ? (await first.textContent()) ?? "" : "");
    while (!/bulk/.test(await firstText()) && Date.now() < deadline) await Bun.sleep(200);
    const top = await first.locator("td").allTextContents();
    expect(top.slice(0, 6)).toEqual(["ui lab", "a → b", "bulk", "udp", expect.stringMatching(/^10\.60\.0\.1:\d+$/), "10.60.0.2:7400"]);
    expect(Number(top[6]!.replace(/,/g, ""))).toBeGreaterThan(400);
    await page.locator("#links-card").screenshot({ path: join(ROOT, "bench", "results", "dashboard-links.png") });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  test("a link made from the page: a bad port range is shown at its field, nothing stored; fixed, it is made; delete asks first", async () => {
    const { page, errors } = await board();

    await page.locator('button[data-action="new"][data-kind="link"]').click();
    const form = page.locator("#editor form");
    const field = (path: string) => form.locator(`[data-path="${path}"]`);
    expect(await form.locator("h2").textContent()).toBe("New link");
    for (const [path, value] of [["id", "ui-made"], ["name", "made in the browser"], ["a", "lc0"], ["b", "ld0"]]) await field(path).fill(value);
    await form.locator('[data-list="flows"] [data-action="add-item"]').click();
    for (const [path, value] of [["flows.0.name", "web"], ["flows.0.match.protocol", "tcp"], ["flows.0.match.ports", "80-99999"], ["flows.0.bToA.delayMs", "20"]]) {
      await field(path).fill(value);
    }
    await form.locator('[data-action="save"]').click();
    // The API's message, at the field it names; nothing stored.
    await form.locator('[data-error-for="flows.0.match.ports"]').filter({ hasText: 'ports must be "N" or "N-M"' }).waitFor({ timeout: 10_000 });
    expect(await field("flows.0.match.ports").getAttribute("aria-invalid")).toBe("true");
    for (const ok of ["flows.0.name", "flows.0.match.protocol", "a", "b"]) expect({ ok, error: await form.locator(`[data-error-for="${ok}"]`).textContent() }).toEqual({ ok, error: "" });
    expect((await r.api("GET", "/api/v1/links/ui-made")).status).toBe(404);
    await page.screenshot({ path: join(ROOT, "bench", "results", "dashboard-link-editor.png") });

    await field("flows.0.match.ports").fill("80-443");
    await form.locator('[data-action="save"]').click();
    await page.locator("#editor").waitFor({ state: "hidden", timeout: 10_000 });
    await page.locator(own("aToB", "ui-made")).waitFor({ timeout: 10_000 });
    const made = (await r.api("GET", "/api/v1/links/ui-made")).body;
    expect(made).toMatchObject({ id: "ui-made", name: "made in the browser", a: "lc0", b: "ld0", state: "waiting",
      flows: [{ name: "web", match: { protocol: "tcp", ports: "80-443" }, bToA: { delayMs: 20 } }] });
    expect(made.aToB).toBeUndefined(); // empty groups are left out
    expect(await page.locator(own("aToB", "ui-made")).textContent()).toContain("waiting");
    expect(await page.locator('#links tr[data-link="ui-made"][data-flow="web"]').count()).toBe(2); // one row each way

    // Delete asks first: keeping it keeps it; confirming removes it.
    const del = page.locator('#links tr[data-link="ui-made"] button[data-action="delete"]');
    await del.click();
    const confirm = page.locator("#confirm");
    expect(await confirm.locator("h2").textContent()).toBe("Delete link made in the browser?");
    expect(await confirm.textContent()).toContain("Frames stop crossing");
    await confirm.locator('[data-action="cancel"]').click();
    await confirm.waitFor({ state: "hidden" });
    expect((await r.api("GET", "/api/v1/links/ui-made")).status).toBe(200);
    await del.click();
    await confirm.locator('[data-action="confirm-delete"]').click();
    await page.locator('#links tr[data-link="ui-made"]').first().waitFor({ state: "detached", timeout: 10_000 });
    expect((await r.api("GET", "/api/v1/links/ui-made")).status).toBe(404);
    expect(await page.locator(own("aToB")).count()).toBe(1); // the running link is still there
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  test("a loss slider on a → b of the running link makes link drops: on the page, in /api/v1/stats and /metrics; b → a untouched", async () => {
    const { page, errors } = await board();
    const before = await linkStats();
    expect(before.aToB.flows[0].drops.impairment).toBe(0);

    await page.locator(`${own("aToB")} button[data-action="edit"]`).click();
    const form = page.locator("#editor form");
    expect(await form.locator("h2").textContent()).toBe("Edit link ui lab");
    const slider = form.locator('[data-slider-for="aToB.loss"]');
    await slider.focus();
    for (let i = 0; i < 50; i++) await page.keyboard.press("ArrowRight");
    const live = form.locator(".live-status").filter({ hasText: /aToB (not )?applied/ });
    await live.waitFor({ timeout: 20_000 });
    expect(await form.locator('[data-path="aToB.loss"]').inputValue()).toBe("0.5");
    // Keys may come slower than the form's pause: the last PATCH is the one that stays.
    const stored = await settled(async () => (await r.api("GET", `/api/v1/links/${LINK}`)).body, (l) => l.aToB?.loss === 0.5, 10_000);
    expect({ status: await live.textContent(), aToB: stored.aToB, flows: stored.flows, issues: (await form.locator(".field-error, .form-error").allTextContents()).filter(Boolean) })
      .toEqual({ status: "aToB applied", aToB: { loss: 0.5 }, flows: [{ name: "bulk", match: { protocol: "udp", ports: "7400" } }], issues: [] });
    await form.locator('[data-action="cancel"]').click();

    // About half of the flow's 800 pps (which takes its loss from the way) and of the trickle is dropped.
    await untilValue(page, `${bulk} td.drops`, (n) => n > 300);
    await untilValue(page, `${own("aToB")} td.drops`, (n) => n > 30);
    expect(await page.locator(`${bulk} td.drops`).textContent()).toMatch(/impairment [\d,]+/);
    const after = await linkStats();
    expect(after.aToB.flows[0].drops.impairment).toBeGreaterThan(300);
    expect(after.aToB.drops.impairment).toBeGreaterThan(30);
    expect(after.bToA.drops.impairment).toBe(0);
    const m = await metricsText(r);
    expect(metric(m, "mcrelay_link_drops_total", { link: "ui lab", direction: "aToB", flow: "bulk", reason: "impairment" })).toBeGreaterThan(300);
    expect(metric(m, "mcrelay_link_drops_total", { link: "ui lab", direction: "bToA", flow: "", reason: "impairment" })).toBeUndefined();
    expect(await num(page, `${own("bToA")} td.drops`)).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);
});

describe("top", () => {
  async function top(args: string[]) {
    const env: Record<string, string | undefined> = { ...process.env };
    for (const k of ["MCRELAY_API", "MCRELAY_API_TOKEN"]) delete env[k];
    const p = Bun.spawn([BUN, "bin/mcrelay.ts", "top", ...args], { cwd: ROOT, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, stdout, stderr };
  }
  /** The RX PPS column of a rule's row. */
  const rxPps = (out: string, rule: string) => {
    const head = out.split("\n").find((l) => l.startsWith("RULE"))!;
    const line = out.split("\n").find((l) => l.startsWith(rule + " "))!;
    expect(line).toBeDefined();
    const end = head.indexOf("RX PPS") + "RX PPS".length;
    return Number(line.slice(0, end).trim().split(/\s+/).pop()!.replace(/,/g, ""));
  };

  test("--once from the API: rules with non-zero rates, the waiting one, workers with pids", async () => {
    const t = await top(["--once", "--api", `unix:${r.apiSocket}`, "--token", r.token]);
    expect({ code: t.code, stderr: t.stderr }).toEqual({ code: 0, stderr: "" });
    expect(t.stdout).toContain(`API unix:${r.apiSocket}`);
    expect(rxPps(t.stdout, "feed-a")).toBeGreaterThan(100);
    expect(t.stdout).toMatch(/feed-b\s+waiting/);
    expect(t.stdout).toMatch(/feed-b: .*out9/);
    expect(t.stdout).toContain("no_rule");
    for (const w of r.status().workers) expect(t.stdout).toContain(String(w.pid));
    expect(t.stdout).toMatch(/LOOP IN\s+LOOP OUT/);
    expect(t.stdout).toContain("in0 up 192.168.50.1/24");
    expect(t.stdout).not.toContain("\x1b["); // not a terminal: no escape codes
  }, 30_000);

  test("--once through --state-dir, and from shared memory when the API cannot be reached", async () => {
    const viaDir = await top(["--once", "--state-dir", r.stateDir]);
    expect({ code: viaDir.code, stderr: viaDir.stderr }).toEqual({ code: 0, stderr: "" });
    expect(rxPps(viaDir.stdout, "feed-a")).toBeGreaterThan(100);
    const shm = await top(["--once", "--api", `unix:${join(tmp, "nothing.sock")}`, "--token", "x".repeat(20), "--state-dir", r.stateDir]);
    expect({ code: shm.code, stderr: shm.stderr }).toEqual({ code: 0, stderr: "" });
    expect(shm.stdout).toContain("read from shared memory");
    expect(rxPps(shm.stdout, "feed-a")).toBeGreaterThan(100);
  }, 30_000);

  test("a wrong token: exit 1 and where the token came from", async () => {
    const t = await top(["--once", "--api", `unix:${r.apiSocket}`, "--token", "wrong-token-wrong-token"]);
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/unauthorized/);
    expect(t.stderr).toContain("token from --token");
  }, 30_000);

  test("--json --once prints the event", async () => {
    const t = await top(["--once", "--json", "--api", `unix:${r.apiSocket}`, "--token", r.token]);
    expect({ code: t.code, stderr: t.stderr }).toEqual({ code: 0, stderr: "" });
    const ev = JSON.parse(t.stdout);
    expect(ev.rules.find((x: any) => x.id === "feed-a").rxPps).toBeGreaterThan(0);
  }, 30_000);
});
