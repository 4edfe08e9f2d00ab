// What ships for monitoring (deploy/prometheus/alerts.yml, deploy/grafana/mcrelay.json) checked
// as an operator would: promtool accepts the rules and the compose profile's config, the alerts'
// own unit tests fire as intended, and every metric name the two files use is one a live relay's
// /metrics has. The relay runs in throw-away namespaces with traffic through one rule.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../lab/netns.ts";
import { ROOT, TestRelay, runGen } from "./lib/relay.ts";

const ALERTS = join(ROOT, "deploy", "prometheus", "alerts.yml");
const DASHBOARD = join(ROOT, "deploy", "grafana", "mcrelay.json");
/** Names the files may use before the relay exports them, each with why. */
const NOT_YET: Record<string, string> = {};

const promtool = (...args: string[]) => {
  const r = Bun.spawnSync(["promtool", ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
};

describe("Prometheus files", () => {
  test("promtool check rules: the alert rules are valid", () => {
    const r = promtool("check", "rules", ALERTS);
    expect(r).toMatchObject({ code: 0 });
    expect(r.out).toContain("SUCCESS: 9 rules found");
  });

  test("promtool test rules: each alert fires on what should fire it, with its text", () => {
    const r = promtool("test", "rules", join(ROOT, "deploy", "prometheus", "alerts.test.yml"));
    expect(r.out).toContain("SUCCESS");
    expect(r.code).toBe(0);
  });

  test("promtool check config: the compose profile's prometheus.yml", () => {
    const dir = mkdtempSync(join(tmpdir(), "mcrelay-prom-"));
    try {
      writeFileSync(join(dir, "token"), "x".repeat(20));
      const cfg = readFileSync(join(ROOT, "deploy", "prometheus", "prometheus.yml"), "utf8")
        .replaceAll("/etc/prometheus/alerts.yml", ALERTS).replaceAll("/tmp/api-token", join(dir, "token"));
      writeFileSync(join(dir, "prometheus.yml"), cfg);
      const r = promtool("check", "config", join(dir, "prometheus.yml"));
      expect(r.out).toContain("is valid prometheus config file syntax");
      expect(r.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Grafana dashboard", () => {
  const dash = JSON.parse(readFileSync(DASHBOARD, "utf8"));
  const panels = (dash.panels as any[]).filter((p) => p.type !== "row");

  test("panels for rates per rule, drops by reason, latency and worker health, on the chosen data source", () => {
    const uses = (metric: string) => panels.filter((p) => p.targets.some((t: any) => t.expr.includes(metric))).map((p) => p.title);
    for (const m of ["mcrelay_rule_rx_packets_total", "mcrelay_rule_tx_packets_total", "mcrelay_rule_rx_bytes_total", "mcrelay_drops_total",
      "mcrelay_rule_drops_total", "mcrelay_rule_latency_seconds_bucket", "mcrelay_worker_loop_utilisation", "mcrelay_worker_restarts_total",
      "mcrelay_worker_kernel_drops_total", "mcrelay_worker_free_slots"]) expect([m, uses(m).length > 0]).toEqual([m, true]);
    for (const p of panels) {
      expect([p.title, p.datasource.uid]).toEqual([p.title, "${datasource}"]);
      expect(p.targets.length).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    }
    expect(new Set(dash.panels.map((p: any) => p.id)).size).toBe(dash.panels.length);
    expect(dash.templating.list.map((v: any) => v.name)).toEqual(["datasource", "instance", "rule"]);
  });
});

describe("metric names", () => {
  let lab: Lab;
  let r: TestRelay;
  beforeAll(async () => {
    lab = Lab.create("mon");
    const src = lab.ns("src");
    const rly = lab.ns("rly");
    const dst = lab.ns("dst");
    lab.veth({ ns: src, ifname: "eth0", addr: "10.99.1.2/24" }, { ns: rly, ifname: "in0", addr: "192.168.50.1/24" });
    lab.veth({ ns: rly, ifname: "out0", addr: "10.77.0.1/24" }, { ns: dst, ifname: "eth0", addr: "10.77.0.2/24" });
    lab.sh(src, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
    r = await TestRelay.start(lab, rly, { rules: [{ id: "feed", input: { interface: "in0", group: "239.1.1.1", port: 5000 },
      outputs: [{ interface: "out0", group: "239.2.2.2", port: 6000 }], impairment: { loss: 0.5, seed: 1 } }] });
    await r.apiReady();
    await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "eth0", "--rate", "2000", "--count", "500"]);
  }, 60_000);
  afterAll(async () => {
    await r?.stop();
    lab?.destroy();
  });

  /** Every mcrelay_ name in a PromQL text. */
  const names = (text: string) => [...text.matchAll(/\bmcrelay_[a-z0-9_]+/g)].map((m) => m[0]);

  test("every metric name in alerts.yml and the dashboard is in a live /metrics (or is named in NOT_YET)", async () => {
    const res = await fetch("http://relay/metrics", { headers: { authorization: `Bearer ${r.token}` }, unix: r.apiSocket } as RequestInit);
    expect(res.status).toBe(200);
    const text = await res.text();
    const families = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
    expect(families.get("mcrelay_rule_rx_packets_total")).toBe("counter");
    expect(text).toMatch(/^mcrelay_rule_drops_total\{(node="[^"]*",)?rule="feed",rule_id="feed",reason="impairment"\} [1-9]/m);

    const alertExprs = [...readFileSync(ALERTS, "utf8").matchAll(/expr: (\|\n(?:\s{10,}.*\n)+|.*)/g)].map((m) => m[1]);
    const dash = JSON.parse(readFileSync(DASHBOARD, "utf8"));
    const dashExprs = [...dash.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr)),
      ...dash.templating.list.map((v: any) => v.definition ?? "")];
    const used = new Set([...alertExprs, ...dashExprs].flatMap(names));
    expect(used.size).toBeGreaterThan(12);
    /** A name /metrics has: a family, or a histogram's _bucket/_sum/_count series. */
    const exists = (n: string) => families.has(n) || families.get(n.replace(/_(bucket|sum|count)$/, "")) === "histogram";
    const missing = [...used].filter((n) => !exists(n) && !(n.replace(/_(bucket|sum|count)$/, "") in NOT_YET));
    expect(missing).toEqual([]);
    // NOT_YET holds only names still missing: once the relay exports one, it must leave the list.
    for (const n of Object.keys(NOT_YET)) expect([n, families.has(n)]).toEqual([n, false]);
  }, 30_000);
});
