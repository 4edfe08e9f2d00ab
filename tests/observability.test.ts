// Counters, Prometheus, OpenTelemetry and log levels against a real relay in namespaces:
//   src --veth-- relay (API, OTLP receiver) --veth-- dst
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Lab } from "../lab/netns.ts";
import { settled } from "./lib/settled.ts";
import { metric, metricsText } from "./lib/metrics.ts";
import { relayTopology } from "./lib/topology.ts";
import { BUN, ROOT, TestRelay, collect, expectExactlyOnce, runGen, startSink } from "./lib/relay.ts";

let lab: Lab;
let src: string, relay: string, dst: string;

beforeAll(() => {
  // MTU 9000: the malformed corpus includes a 9,000-byte frame.
  ({ lab, src, relay, dst } = relayTopology("obs", { inputMtu: 9000 }));
});
afterAll(() => lab?.destroy());

const rule = (name: string, port: number, extra: object = {}) => ({
  name, input: { interface: "in0", group: "239.1.1.1", port }, outputs: [{ interface: "out0", group: "239.2.2.2", port: port + 1000 }], ...extra,
});
const gen = (port: number, rate: number, count: number) =>
  runGen(lab, src, ["--group", "239.1.1.1", "--port", String(port), "--interface", "eth0", "--rate", String(rate), "--size", "400", "--count", String(count)]);

/** An OTLP/HTTP receiver inside the relay namespace; spans() returns what it decoded so far. */
function receiver(port: number) {
  const p = lab.spawn(relay, [BUN, "tests/tools/otlp-receiver.ts", "--port", String(port)], { cwd: ROOT });
  const out = collect(p.stdout);
  const err = collect(p.stderr);
  return {
    ready: (async () => { while (!err.text().includes("ready")) await Bun.sleep(10); })(),
    spans: () => out.text().split("\n").filter(Boolean).map((l) => JSON.parse(l)),
    stop: () => p.kill("SIGTERM"),
  };
}

describe("observability", () => {
  test("N packets: /metrics and /api/v1/stats count exactly N; drops by reason match a malformed corpus", async () => {
    // No jumbo slots: the corpus's 8,972-byte datagram is then oversize.
    const r = await TestRelay.start(lab, relay, { rules: [rule("counted", 5000)], pool: { jumboSlots: 0 } });
    try {
      await r.apiReady();
      const s = startSink(lab, dst, ["--group", "239.2.2.2", "--port", "6000", "--interface", "eth0", "--expect", "3000"]);
      await s.ready;
      await gen(5000, 5000, 3000);
      expectExactlyOnce(await s.result, 3000, r);
      const inj = lab.spawn(src, [BUN, "tests/tools/inject.ts", "--interface", "eth0", "--src", "10.99.1.2", "--group", "239.1.1.1", "--port", "5000", "--valid", "100"], { cwd: ROOT });
      const injOut = collect(inj.stdout);
      expect(await inj.exited).toBe(0);
      await injOut.done;
      const sent = JSON.parse(injOut.text()) as Record<string, number>;
      const m = await settled(() => metricsText(r), (t) => metric(t, "mcrelay_rule_tx_packets_total", { rule: "counted" }) === 3100);
      expect(metric(m, "mcrelay_rule_rx_packets_total", { rule: "counted" })).toBe(3100);
      expect(metric(m, "mcrelay_rule_tx_packets_total", { rule: "counted" })).toBe(3100);
      expect(metric(m, "mcrelay_rule_tx_bytes_total", { rule: "counted" })).toBe(3000 * 400 + 100 * 1000);
      for (const [reason, n] of Object.entries(sent)) if (reason !== "valid") expect({ reason, n: metric(m, "mcrelay_drops_total", { reason }) }).toEqual({ reason, n });
      expect(metric(m, "mcrelay_rule_drops_total", { rule: "counted", reason: "oversize" })).toBe(sent.oversize);
      expect(metric(m, "mcrelay_rule_up", { rule: "counted" })).toBe(1);
      expect(metric(m, "mcrelay_api_process_resident_memory_bytes")).toBeGreaterThan(0);
      const st = (await r.api("GET", "/api/v1/stats")).body;
      expect(st.rules[0]).toMatchObject({ rxPackets: 3100, txPackets: 3100 });
      expect(st.drops.bad_ihl).toBe(sent.bad_ihl);
      expect(typeof st.workers[0].ingressUtilisation).toBe("number");
      expect((await fetch("http://relay/metrics", { unix: r.apiSocket } as RequestInit)).status).toBe(401);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("a worker restart keeps the rule's totals", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [rule("kept", 5100)] });
    try {
      await r.apiReady();
      await gen(5100, 4000, 1000);
      await settled(() => metricsText(r), (t) => metric(t, "mcrelay_rule_tx_packets_total", { rule: "kept" }) === 1000);
      for (const w of r.status().workers) process.kill(w.pid, "SIGKILL");
      const old = r.status().workers.map((w) => w.pid);
      await settled(async () => r.status(), (s) => s.state === "ready" && s.workers.every((w) => !old.includes(w.pid)), 5000);
      await Bun.sleep(300);
      await gen(5100, 4000, 500);
      const m = await settled(() => metricsText(r), (t) => metric(t, "mcrelay_rule_tx_packets_total", { rule: "kept" }) === 1500);
      expect(metric(m, "mcrelay_rule_tx_packets_total", { rule: "kept" })).toBe(1500);
      expect(metric(m, "mcrelay_worker_restarts_total", { worker: "0" })).toBeGreaterThanOrEqual(1);
    } finally {
      await r.stop();
    }
  }, 60_000);

  for (const protocol of ["http/json", "http/protobuf"] as const) {
    test(`OTLP (${protocol}): ratio 0.1 gives ~10% spans with the attributes; ratio 0 none; a change via the API is in force when answered`, async () => {
      const port = protocol === "http/json" ? 4318 : 4319;
      const rx = receiver(port);
      await rx.ready;
      const env = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_SERVICE_NAME: "relay-under-test", OTEL_BSP_SCHEDULE_DELAY: "200" };
      const r = await TestRelay.start(lab, relay, { rules: [rule("sampled", 5200, { traceSampleRatio: 0.1 }), rule("quiet", 5201)] }, { env });
      try {
        await r.apiReady();
        await gen(5200, 5000, 5000);
        await gen(5201, 5000, 2000);
        const packets = () => rx.spans().filter((s) => s.name === "mcrelay.packet");
        await settled(async () => packets().length, (n) => n >= 350, 4000);
        await Bun.sleep(600); // the last batch
        const spans = packets();
        expect(spans.length).toBeGreaterThanOrEqual(350);
        expect(spans.length).toBeLessThanOrEqual(650);
        expect(spans.every((s) => s.attrs["mcrelay.rule.name"] === "sampled")).toBe(true); // ratio 0: none for "quiet"
        const s0 = spans[0];
        expect(s0.service).toBe("relay-under-test");
        expect(s0.encoding).toBe(protocol === "http/json" ? "json" : "protobuf");
        expect(s0.attrs).toMatchObject({ "mcrelay.rule.id": r.status().rules[0].id, "mcrelay.input.interface": "in0",
          "source.address": "10.99.1.2", "destination.address": "239.1.1.1", "destination.port": 5200, "mcrelay.packet.size": 400, "mcrelay.outputs": 1 });
        expect(s0.endNs).toBeGreaterThan(s0.startNs);
        expect(Math.abs(s0.startNs / 1e6 - Date.now())).toBeLessThan(60_000); // wall-clock times
        // A change is in force when the API answers it: every packet sent after the answer is traced.
        const quietId = r.status().rules[1].id;
        expect((await r.api("PATCH", `/api/v1/rules/${quietId}`, { traceSampleRatio: 1 })).status).toBe(200);
        await gen(5201, 2000, 200);
        const quiet = await settled(async () => rx.spans().filter((s) => s.attrs["mcrelay.rule.name"] === "quiet"), (q) => q.length >= 200, 3000);
        expect(quiet.length).toBe(200);
        // API requests and rule changes are traced too.
        const apiSpan = rx.spans().find((s) => s.name === "PATCH /api/v1/rules/{id}");
        expect(apiSpan?.attrs).toMatchObject({ "mcrelay.rule.id": quietId, "http.response.status_code": 200 });
      } finally {
        await r.stop();
        rx.stop();
      }
    }, 90_000);
  }

  test("log level changes at runtime, in every process", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [] });
    try {
      await r.apiReady();
      // Info lines the workers wrote after time t (they log "config applied" on every change).
      const appliedSince = (t: number) => r.logs().split("\n").filter((l) => l.includes('"msg":"config applied"')).map((l) => JSON.parse(l))
        .filter((j) => j.time > t && j.level === 30).length;
      expect((await r.api("GET", "/api/v1/log-level")).body).toEqual({ level: "info" });
      expect((await r.api("PUT", "/api/v1/log-level", { level: "warn" })).body).toEqual({ level: "warn" });
      const quietFrom = Date.now();
      expect((await r.api("GET", "/api/v1/log-level")).body).toEqual({ level: "warn" });
      expect((await r.api("POST", "/api/v1/rules", rule("lvl", 5300))).status).toBe(201);
      await Bun.sleep(300);
      expect(appliedSince(quietFrom)).toBe(0); // workers no longer log info
      await r.api("PUT", "/api/v1/log-level", { level: "info" });
      const loudFrom = Date.now();
      expect((await r.api("PATCH", `/api/v1/rules/${r.status().rules[0].id}`, { name: "lvl2" })).status).toBe(200);
      await Bun.sleep(300);
      expect(appliedSince(loudFrom)).toBeGreaterThanOrEqual(3); // both workers again
      const bad = await r.api("PUT", "/api/v1/log-level", { level: "loud" });
      expect(bad.status).toBe(422);
      expect(bad.body.issues[0].path).toEqual(["level"]);
    } finally {
      await r.stop();
    }
  }, 60_000);
});
