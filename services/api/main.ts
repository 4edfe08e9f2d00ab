// API process: unprivileged, started by the supervisor (or on its own, e.g. in its own
// container). Persists rules, keeps the supervisor's rules equal to the store, serves HTTP.
import { rmSync } from "node:fs";
import { parseArgs } from "node:util";
import pino from "pino";
import { openSegment, type Segment } from "../../shm/segment.ts";
import type { Status } from "../protocol/status.ts";
import { buildApp } from "./app.ts";
import { DesiredState } from "./desired.ts";
import { SupervisorLink } from "./link.ts";
import { RateSampler } from "../../shm/rates.ts";
import { openStore } from "./store/index.ts";
import { loadToken } from "./token.ts";
import { collectStats } from "../../shm/stats.ts";
import { statsBody } from "../protocol/stats.ts";
import { makeMetrics, type Snapshot } from "./metrics.ts";
import { setupTracing } from "./otel.ts";
import { PacketSpans, type RuleInfo } from "./packet-spans.ts";

const { values: v } = parseArgs({
  options: {
    listen: { type: "string", default: "127.0.0.1:8080" }, "state-dir": { type: "string", default: "var/api" },
    control: { type: "string", default: "var/control.sock" },
    /** started by a supervisor: leave with it (a new supervisor starts its own API) */
    parent: { type: "string" },
  },
});
if (v.parent) {
  const parent = Number(v.parent);
  setInterval(() => process.ppid !== parent && process.exit(0), 500);
}
const log = pino({ base: { component: "api", pid: process.pid }, level: process.env.MCRELAY_LOG_LEVEL ?? "info" });

const tracing = await setupTracing();
const token = loadToken(v["state-dir"]!, (line) => console.error(line));
const store = await openStore({ databaseUrl: process.env.DATABASE_URL, stateDir: v["state-dir"]! });
const link = new SupervisorLink(v.control!, log);
const desired = new DesiredState(store, link, log);
let seg: Segment | null = null;
/** the supervisor whose segment is mapped: a restarted one makes a new segment under the same name */
let segOwner = 0;
let lastStatus: Status | null = null;

/** The supervisor's status; also (re)maps the segment when the supervisor has a new one. */
async function status(): Promise<Status | null> {
  try {
    lastStatus = (await link.request<"status">({ type: "status" }, 2000)).status;
    if (lastStatus.shm && (!seg || seg.name !== lastStatus.shm || segOwner !== lastStatus.pid)) {
      seg = openSegment(lastStatus.shm);
      segOwner = lastStatus.pid;
      spans.attach(seg);
    }
    return lastStatus;
  } catch {
    return null;
  }
}

link.onConnect = () => void desired.onConnect();
link.start();

const spans = new PacketSpans(tracing.tracer, () => new Map<number, RuleInfo>((lastStatus?.rules ?? []).map((r) => [r.no, { id: r.id, name: r.name, ifname: r.ifname ?? "" }])));
if (tracing.enabled) spans.start();
const sampler = new RateSampler(() => seg, () => lastStatus?.rules ?? []);
sampler.start();
setInterval(async () => {
  const st = await status();
  if (st?.fileRulesPending) await desired.importAndSync(); // SIGHUP reloaded the rules file: import it
}, 1000);

let snap: Snapshot | null = null;
const registry = makeMetrics(() => snap, () => ({ spansExported: spans.exported, spansLost: spans.lost }));

const app = buildApp({
  store, token, tracer: tracing.tracer,
  synced: () => desired.synced && link.connected,
  metrics: async () => {
    const st = await status();
    snap = seg && st ? { stats: collectStats(seg, st.rules), rates: sampler.rates, status: st } : null;
    return { contentType: registry.contentType, body: await registry.metrics() };
  },
  logLevel: () => log.level,
  setLogLevel: async (level) => {
    await link.request<"done">({ type: "log-level", level });
    log.level = level;
  },
  sync: () => desired.sync(),
  status,
  interfaces: async () => {
    try {
      return (await link.request<"interfaces">({ type: "interfaces" }, 2000)).interfaces;
    } catch {
      return null;
    }
  },
  stats: async () => {
    const st = await status();
    return seg && st ? statsBody(collectStats(seg, st.rules), sampler.rates) : null;
  },
});

// HOST:PORT, or unix:PATH (access then follows the socket file's permissions).
const listen = v.listen!;
// A predecessor that was killed leaves its socket file behind; it is ours to replace.
if (listen.startsWith("unix:")) rmSync(listen.slice(5), { force: true });
const server = listen.startsWith("unix:")
  ? Bun.serve({ unix: listen.slice(5), fetch: app.fetch })
  : Bun.serve({ hostname: listen.slice(0, listen.lastIndexOf(":")), port: Number(listen.slice(listen.lastIndexOf(":") + 1)), fetch: app.fetch });
log.info({ listen, store: store.kind }, "API listening");

for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, async () => {
    server.stop();
    sampler.stop();
    spans.stop();
    await tracing.shutdown();
    link.close();
    await store.close();
    process.exit(0);
  });
}
