// API process: unprivileged, started by the supervisor (or on its own, e.g. in its own
// container). Persists rules and links, keeps the supervisor's equal to the store, serves HTTP.
// A configuration it cannot use (a flag, a variable, a store it cannot reach, a port it cannot
// listen on) stops it at once with exit code 2 and one line saying which: the supervisor then
// does not start it again.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { defaultLogFormat, makeLogger } from "../logging.ts";
import { setDumpable } from "../../c/sys.ts";
import { openSegment, type Segment } from "../../shm/segment.ts";
import { collectStats } from "../../shm/stats.ts";
import { collectLatency } from "../../shm/latency.ts";
import { RateSampler } from "../../shm/rates.ts";
import { FlowTopSampler } from "../../shm/flowtop-sampler.ts";
import { DEFAULT_STATE_DIR, type Status } from "../protocol/status.ts";
import { statsBody } from "../protocol/stats.ts";
import { ConfigError, readEnvironment } from "../startup/environment.ts";
import { parseListen } from "../startup/listen.ts";
import { buildApp } from "./app.ts";
import { LocalFleet, type Fleet, type FleetDeps } from "./fleet/index.ts";
import { PgFleet } from "./fleet/shared.ts";
import { RefusedError, SupervisorLink } from "./link.ts";
import { makeMetrics, type Snapshot } from "./metrics.ts";
import { setupTracing } from "./otel.ts";
import { PacketSpans, type RuleInfo } from "./packet-spans.ts";
import { openStore, type RuleStore } from "./store/index.ts";
import { describeServer, isUnreachable } from "./store/pg.ts";
import { shared } from "./shared.ts";
import { DataPlaneSync } from "./sync.ts";
import { loadToken } from "./token.ts";

const CONFIG_EXIT = 2;
function refuse(msg: string): never {
  console.error(`mcrelay api: ${msg}`);
  process.exit(CONFIG_EXIT);
}

let v: { listen?: string; "state-dir"?: string; control?: string; parent?: string };
try {
  ({ values: v } = parseArgs({
    options: {
      listen: { type: "string", default: "127.0.0.1:8080" }, "state-dir": { type: "string", default: join(DEFAULT_STATE_DIR, "api") },
      control: { type: "string", default: join(DEFAULT_STATE_DIR, "control.sock") },
      /** started by a supervisor: leave with it (a new supervisor starts its own API) */
      parent: { type: "string" },
    },
  }));
} catch (e) {
  refuse((e as Error).message);
}
let env: ReturnType<typeof readEnvironment>;
let listen: ReturnType<typeof parseListen>;
try {
  env = readEnvironment();
  listen = parseListen("--listen", v.listen!);
} catch (e) {
  if (e instanceof ConfigError) refuse(e.message);
  throw e;
}
if (v.parent) {
  const parent = Number(v.parent);
  setInterval(() => process.ppid !== parent && process.exit(0), 500);
}
const log = makeLogger({ component: "api", pid: process.pid }, env.MCRELAY_LOG_LEVEL ?? "info", env.MCRELAY_LOG_FORMAT ?? defaultLogFormat());
// The workers run as the same user: none of them may ptrace this process or read its memory.
setDumpable(false);

const tracing = await setupTracing();
const token = loadToken(v["state-dir"]!, (line) => log.info({}, line));
let store: RuleStore;
for (let said = false; ; ) {
  try {
    store = await openStore({ databaseUrl: env.DATABASE_URL, stateDir: v["state-dir"]! });
    break;
  } catch (e) {
    // A server that is not there (yet, or for now: `start` checked it a moment ago, or this API
    // was restarted during an outage) is waited for: forwarding goes on meanwhile, and exiting
    // would leave this node without its API for good. One that refuses us is the configuration's fault.
    if (env.DATABASE_URL && isUnreachable(e)) {
      if (!said) console.error(`mcrelay api: waiting for the PostgreSQL server (${describeServer(env.DATABASE_URL)}): ${(e as Error).message}`);
      said = true;
      await Bun.sleep(1000);
      continue;
    }
    if (env.DATABASE_URL) refuse(`DATABASE_URL: cannot use the PostgreSQL server: ${(e as Error).message}`);
    console.error(`mcrelay api: cannot open the rule store: ${(e as Error).message}`);
    process.exit(1);
  }
}
const link = new SupervisorLink(v.control!, log);
const sync = new DataPlaneSync(store, link, log);
const version = (JSON.parse(readFileSync(join(import.meta.dir, "../../package.json"), "utf8")) as { version: string }).version;
const fleetDeps: FleetDeps = { sync, status: () => status(), interfaces: () => interfaces(), version };
// PostgreSQL may be shared by many relays: a fleet. SQLite is this host's alone.
const fleet: Fleet = store.postgres ? new PgFleet(store.postgres, link, fleetDeps, log) : new LocalFleet(fleetDeps);
sync.onHello = (h) => fleet.hello(h);
sync.onApplied = () => fleet.changed();
let seg: Segment | null = null;
/** the supervisor whose segment is mapped: a restarted one makes a new segment under the same name */
let segOwner = 0;
let lastStatus: Status | null = null;

/** The supervisor's status (fetched only when it changed); maps a new segment when there is one. */
async function status(): Promise<Status | null> {
  const st = await link.currentStatus();
  if (st) {
    lastStatus = st;
    if (st.shm && (!seg || seg.name !== st.shm || segOwner !== st.pid)) {
      seg = openSegment(st.shm, true); // the trace ring's reader uses Atomics (shm/segment.ts)
      segOwner = st.pid;
      spans.attach(seg);
    }
  }
  return st;
}

link.onConnect = () => sync.onConnect();
// SIGHUP reloaded the rules file: import it once the status says so.
link.onStatusChange = () => void status().then((st) => {
  if (st?.fileRulesPending) void sync.importAndSync();
  fleet.changed();
});

async function interfaces() {
  try {
    return (await link.request<"interfaces">({ type: "interfaces" }, 2000)).interfaces;
  } catch {
    return null;
  }
}
link.start();

const spans = new PacketSpans(tracing.tracer, () => new Map<number, RuleInfo>((lastStatus?.rules ?? []).map((r) => [r.no, { id: r.id, name: r.name, ifname: r.ifname ?? "" }])));
if (tracing.enabled) spans.start();
const sampler = new RateSampler(() => seg, () => lastStatus?.rules ?? []);
sampler.start();
const flowTop = new FlowTopSampler(() => seg);
flowTop.start();
// Keeps the segment mapped and the rates fed even when nobody asks.
setInterval(() => void status(), 1000);

const registry = makeMetrics(() => snap, () => ({ exported: spans.exported, lost: spans.lost }));
let snap: Snapshot | null = null;

// Under many clients, the requests of one moment share one reading of the counters (at most
// 100 ms old, exact as of then): 50 clients on /metrics cost what one does.
const metricsNow = shared(async () => {
  const st = await status();
  snap = seg && st
    ? { stats: collectStats(seg, st.rules, st.links ?? []), rates: sampler.rates, status: st, latency: collectLatency(seg, st.rules.map((r) => r.no)) }
    : null;
  // Encoded once: every request of the moment sends the same bytes.
  return { contentType: registry.contentType, body: new TextEncoder().encode(await registry.text()) };
}, 100);
const statsNow = shared(async () => {
  const st = await status();
  if (!seg || !st) return null;
  const body = statsBody(collectStats(seg, st.rules, st.links ?? []), sampler.rates);
  return { body, json: new TextEncoder().encode(JSON.stringify(body)) }; // encoded once for every request of the moment
}, 100);

const app = buildApp({
  store, token, tracer: tracing.tracer, writes: sync, fleet,
  synced: () => sync.synced && link.connected,
  metrics: metricsNow,
  logLevel: () => log.level,
  setLogLevel: async (level) => {
    await link.request<"done">({ type: "log-level", level });
    log.level = level;
  },
  status,
  interfaces,
  stats: async () => (await statsNow())?.body ?? null,
  statsJson: async () => (await statsNow())?.json ?? null,
  flowTop: async (limit) => {
    const st = await status();
    return seg && st ? flowTop.top(st.links ?? [], limit) : null;
  },
  exists: async (kind, id) => (await (kind === "rule" ? store.rules : store.links).get(id)) !== null,
  capture: async (kind, id, query) => {
    try {
      return { fifo: (await link.request<"capture">({ type: "capture", kind, target: id, query })).fifo };
    } catch (e) {
      return e instanceof RefusedError ? { refused: e.message } : null;
    }
  },
  captureStop: async (fifo) => {
    await link.request<"done">({ type: "capture-stop", fifo }).catch(() => {}); // the supervisor ends it at its seconds anyway
  },
});

let server: ReturnType<typeof Bun.serve>;
try {
  // A predecessor that was killed leaves its socket file behind; it is ours to replace.
  if (listen.unix) rmSync(listen.unix, { force: true });
  server = listen.unix ? Bun.serve({ unix: listen.unix, fetch: app.fetch }) : Bun.serve({ hostname: listen.host, port: listen.port, fetch: app.fetch });
} catch (e) {
  refuse(`--listen ${v.listen}: cannot listen: ${(e as { code?: string }).code ?? ""} ${(e as Error).message}`.replace(/\s+/g, " "));
}
log.info({ listen: v.listen, store: store.kind }, "API listening");

for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, async () => {
    server.stop();
    sampler.stop();
    flowTop.stop();
    spans.stop();
    await tracing.shutdown();
    await fleet.close();
    link.close();
    await store.close();
    process.exit(0);
  });
}
