#!/usr/bin/env bun
// End-to-end test of the docker-compose deployment: `bun run test:compose` (root; takes minutes).
//
// Installs what is missing (docker.io, docker-compose, debootstrap), starts dockerd if none runs
// (and stops it afterwards), builds the base image if missing (deploy/build-base.sh), builds the
// images, and runs compose.yaml under a unique project name. The relay runs in the host's network
// namespace (as compose runs it), so the test makes two veth pairs whose relay-side ends are in
// the host namespace and whose other ends are in throw-away namespaces (src, dst). It then checks:
//   1. a rule added through the REST API (127.0.0.1, bearer token) forwards every packet once;
//   2. forwarding goes on, exactly once, while the api container restarts, and the rule and the
//      counters are still there through the new API;
//   3. with COMPOSE_PROFILES=postgres the rules live in PostgreSQL (same checks, shorter).
// Everything it made goes away at the end: containers, networks, volumes, its images, the
// namespaces and veths, the certificates it copied, and dockerd if it started it.
//
// Environment: MCRELAY_COMPOSE="docker compose" uses Compose v2 (default: docker-compose, else
// `docker compose`); MCRELAY_BASE_IMAGE (default debian:bookworm-slim); MCRELAY_COMPOSE_POSTGRES=0
// skips part 3; MCRELAY_COMPOSE_KEEP_IMAGES=1 keeps the built images (faster reruns).
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab, requireRoot } from "../../lab/netns.ts";
import { runGen, spawnGen, startSink } from "../../lab/procs.ts";

const ROOT = join(import.meta.dir, "..", "..");
const env = process.env;
const BASE = env.MCRELAY_BASE_IMAGE || "debian:bookworm-slim";
const WITH_POSTGRES = env.MCRELAY_COMPOSE_POSTGRES !== "0";
const KEEP_IMAGES = env.MCRELAY_COMPOSE_KEEP_IMAGES === "1";
const ID = Math.floor(Math.random() * 0x10000).toString(16).padStart(4, "0");
const PROJECT = `mcrc${ID}`;
const IMAGE = `mcrelay-test-${ID}:latest`;
const PG_IMAGE = `mcrelay-test-pg-${ID}:latest`;
const TOKEN = `test-${crypto.randomUUID()}`;
const WORK = mkdtempSync(join(tmpdir(), `mcrelay-compose-${ID}-`));
const t0 = performance.now();

// ---- small helpers ---------------------------------------------------------------------------

interface Ran {
  code: number;
  out: string;
  err: string;
}

function run(cmd: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {}): Ran {
  const r = Bun.spawnSync(cmd, { cwd: opts.cwd ?? ROOT, env: { ...env, ...opts.env } as Record<string, string>, stdout: "pipe", stderr: "pipe", timeout: opts.timeoutMs ?? 600_000 });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

function must(cmd: string[], opts: Parameters<typeof run>[1] = {}): string {
  const r = run(cmd, opts);
  if (r.code !== 0) throw new Error(`\`${cmd.join(" ")}\` failed (${r.code}):\n${(r.err || r.out).trim().slice(-4000)}`);
  return r.out;
}

/** Long commands (builds): output to a log file, its tail shown when they fail. */
async function logged(name: string, cmd: string[], opts: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<void> {
  const log = join(WORK, `${name}.log`);
  const t = performance.now();
  const p = Bun.spawn(cmd, { cwd: opts.cwd ?? ROOT, env: { ...env, ...opts.env } as Record<string, string>, stdin: "ignore", stdout: Bun.file(log), stderr: "pipe" });
  running = p;
  const errText = new Response(p.stderr).text();
  const code = await p.exited;
  running = null;
  const err = await errText;
  writeFileSync(log, readFileSync(log, "utf8") + err);
  if (code !== 0) {
    const tail = readFileSync(log, "utf8").split("\n").slice(-60).join("\n");
    throw new Error(`${name} failed (exit ${code}); the end of ${log}:\n${tail}`);
  }
  step(`${name}: ${secs(t)}`);
}

const secs = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;
function step(msg: string): void {
  console.error(`[compose ${secs(t0).padStart(7)}] ${msg}`);
}

const have = (bin: string) => run(["sh", "-c", `command -v ${bin}`]).code === 0;

async function until<T>(what: string, ms: number, fn: () => Promise<T | null | undefined> | T | null | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v !== null && v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s${last ? ` (${(last as Error).message})` : ""}`);
    await Bun.sleep(250);
  }
}

let passed = 0;
function check(what: string, ok: boolean, detail: unknown = ""): void {
  if (!ok) throw new Error(`FAILED: ${what} ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  passed++;
  step(`ok: ${what}`);
}

// ---- clean-up: synchronous, in reverse order, also on SIGINT/SIGTERM --------------------------

const cleanups: { what: string; fn: () => void }[] = [];
const onCleanup = (what: string, fn: () => void) => cleanups.push({ what, fn });
let cleanedUp = false;
/** The long command under way (a build), ended first when the test is interrupted. */
let running: Bun.Subprocess | null = null;
function cleanup(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  if (running && running.exitCode === null) {
    running.kill("SIGTERM");
    const deadline = Date.now() + 20_000;
    while (existsSync(`/proc/${running.pid}`) && !/\) Z/.test(readFileSync(`/proc/${running.pid}/stat`, "utf8")) && Date.now() < deadline) Bun.sleepSync(100);
  }
  for (const c of cleanups.reverse()) {
    try {
      c.fn();
    } catch (e) {
      console.error(`clean-up (${c.what}) failed: ${(e as Error).message}`);
    }
  }
}
// Registered before the Lab's own handlers (which exit), so these run first.
for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  process.on(sig, () => {
    console.error(`compose test: ${sig}; cleaning up`);
    cleanup();
    process.exit(code);
  });
}

// ---- tools, daemon, base image, build ---------------------------------------------------------

let compose: string[] = [];

function ensureTools(): void {
  const missing: string[] = [];
  if (!have("dockerd") || !have("docker")) missing.push("docker.io");
  if (env.MCRELAY_COMPOSE) compose = env.MCRELAY_COMPOSE.split(/\s+/);
  else if (have("docker-compose")) compose = ["docker-compose"];
  else if (have("docker") && run(["docker", "compose", "version"]).code === 0) compose = ["docker", "compose"];
  else {
    missing.push("docker-compose");
    compose = ["docker-compose"];
  }
  if (!have("debootstrap")) missing.push("debootstrap");
  if (missing.length) {
    step(`apt-get install ${missing.join(" ")}`);
    const aptEnv = { DEBIAN_FRONTEND: "noninteractive" };
    must(["apt-get", "update", "-qq"], { env: aptEnv });
    must(["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...missing], { env: aptEnv });
  }
  step(`compose: ${compose.join(" ")} (${must([...compose, "version"]).split("\n")[0]!.trim()})`);
}

async function ensureDockerd(): Promise<void> {
  if (run(["docker", "info"], { timeoutMs: 30_000 }).code === 0) {
    step("dockerd: already running, used as it is");
    return;
  }
  // Ours: no firewall rules, no IP forwarding, no default bridge — nothing changes on the host
  // beyond the project's own network. Builds use the host network (below), so none needs NAT.
  const log = join(WORK, "dockerd.log");
  const p = Bun.spawn(["dockerd", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--bridge=none"],
    { stdin: "ignore", stdout: Bun.file(log), stderr: Bun.file(log) });
  onCleanup("stop dockerd", () => {
    process.kill(p.pid, "SIGTERM");
    const deadline = Date.now() + 30_000;
    while (existsSync(`/proc/${p.pid}`) && !/\) Z/.test(readFileSync(`/proc/${p.pid}/stat`, "utf8")) && Date.now() < deadline) Bun.sleepSync(100);
    if (existsSync(`/proc/${p.pid}`) && !/\) Z/.test(readFileSync(`/proc/${p.pid}/stat`, "utf8"))) process.kill(p.pid, "SIGKILL");
    step(`dockerd (pid ${p.pid}) stopped`);
  });
  await until("dockerd answers", 60_000, () => {
    if (p.exitCode !== null) throw new Error(`dockerd exited (${p.exitCode}): ${readFileSync(log, "utf8").slice(-2000)}`);
    return run(["docker", "info"], { timeoutMs: 10_000 }).code === 0;
  });
  step(`dockerd: started (pid ${p.pid}), stopped at the end`);
}

async function ensureBase(): Promise<void> {
  if (run(["docker", "image", "inspect", BASE]).code === 0) {
    step(`base image ${BASE}: present`);
    return;
  }
  await logged("build-base", ["bash", "deploy/build-base.sh", BASE]);
}

function copyCertificates(): void {
  const from = "/usr/local/share/ca-certificates";
  const to = join(ROOT, "deploy", "ca-certificates");
  if (!existsSync(from)) return;
  const copied: string[] = [];
  for (const f of readdirSync(from, { recursive: true }) as string[]) {
    if (!f.endsWith(".crt")) continue;
    const dest = join(to, `host-${f.replaceAll("/", "-")}`);
    if (existsSync(dest)) continue;
    copyFileSync(join(from, f), dest);
    copied.push(dest);
  }
  onCleanup("remove copied certificates", () => copied.forEach((f) => rmSync(f, { force: true })));
  if (copied.length) step(`copied ${copied.length} CA certificate(s) from ${from} into the build context`);
}

/** Untagged images of our Dockerfiles' stages (every stage carries the label org.mcrelay.stage). */
const danglingStages = () =>
  new Set(run(["docker", "images", "-q", "--no-trunc", "--filter", "dangling=true", "--filter", "label=org.mcrelay.stage"]).out.split("\n").filter(Boolean));

async function buildImages(): Promise<void> {
  const before = danglingStages();
  onCleanup("remove images", () => {
    if (KEEP_IMAGES) return step(`kept images ${IMAGE} ${PG_IMAGE}`);
    run(["docker", "rmi", "-f", IMAGE, PG_IMAGE]);
    // The build stage stays behind untagged (and so does a build that was interrupted): remove
    // what this run made. A cancelled build may still hold its last layer for a moment.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const made = [...danglingStages()].filter((i) => !before.has(i));
      if (!made.length || run(["docker", "rmi", ...made]).code === 0 || Date.now() > deadline) break;
      Bun.sleepSync(1000);
    }
  });
  // The classic builder works with every daemon and CLI (compose 1.x builds with it too); the
  // host network lets a build reach the registries without NAT rules.
  const buildEnv = { DOCKER_BUILDKIT: "0" };
  await logged("build mcrelay", ["docker", "build", "--force-rm", "--network", "host", "--build-arg", `BASE_IMAGE=${BASE}`, "--target", "runtime", "-t", IMAGE, "."], { env: buildEnv });
  if (WITH_POSTGRES) {
    await logged("build postgres", ["docker", "build", "--force-rm", "--network", "host", "--build-arg", `BASE_IMAGE=${BASE}`, "-f", "deploy/postgres.Dockerfile", "-t", PG_IMAGE, "deploy"], { env: buildEnv });
  }
  const size = Number(must(["docker", "image", "inspect", "-f", "{{.Size}}", IMAGE]).trim());
  step(`image ${IMAGE}: ${(size / 1e6).toFixed(0)} MB`);
}

// ---- compose ----------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  for (const port of [8080, 0]) {
    try {
      const s = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
      const p = s.port;
      s.stop(true);
      return p;
    } catch {}
  }
  throw new Error("no free port on 127.0.0.1");
}

let API_PORT = 0;
let profiles = "";
const envFile = join(WORK, "empty.env"); // a .env in the work tree must not change the test

function composeEnv(): Record<string, string> {
  return {
    COMPOSE_PROJECT_NAME: PROJECT, COMPOSE_PROFILES: profiles, MCRELAY_IMAGE: IMAGE, MCRELAY_POSTGRES_IMAGE: PG_IMAGE,
    MCRELAY_BASE_IMAGE: BASE, MCRELAY_API_PORT: String(API_PORT), MCRELAY_API_BIND: "127.0.0.1", MCRELAY_API_TOKEN: TOKEN,
    MCRELAY_WORKERS: "1", MCRELAY_SHM_SIZE: "256m", MCRELAY_LOG_LEVEL: "info", MCRELAY_DATABASE_URL: "",
    MCRELAY_PG_PASSWORD: `pw-${ID}-${crypto.randomUUID().slice(0, 8)}`, MCRELAY_CONFIG_DIR: "./deploy/config",
    MCRELAY_SECCOMP: "./deploy/seccomp.json",
  };
}

const dc = (args: string[], timeoutMs = 300_000) =>
  must([...compose, "--env-file", envFile, "-p", PROJECT, "-f", join(ROOT, "compose.yaml"), ...args], { env: composeEnv(), timeoutMs });

function removeProject(): void {
  const all = { ...composeEnv(), COMPOSE_PROFILES: "postgres" };
  run([...compose, "--env-file", envFile, "-p", PROJECT, "-f", join(ROOT, "compose.yaml"), "down", "-v", "--remove-orphans", "-t", "20"], { env: all, timeoutMs: 180_000 });
  // Whatever compose left: by the project label.
  const label = `label=com.docker.compose.project=${PROJECT}`;
  const ids = (cmd: string[]) => run(cmd).out.split("\n").filter(Boolean);
  const cs = ids(["docker", "ps", "-aq", "--filter", label]);
  if (cs.length) run(["docker", "rm", "-f", "-v", ...cs]);
  const ns = ids(["docker", "network", "ls", "-q", "--filter", label]);
  if (ns.length) run(["docker", "network", "rm", ...ns]);
  const vs = ids(["docker", "volume", "ls", "-q", "--filter", label]);
  if (vs.length) run(["docker", "volume", "rm", "-f", ...vs]);
}

async function up(): Promise<void> {
  const t = performance.now();
  dc(["up", "-d", "--no-build"]);
  await until("/healthz answers 200", 90_000, async () => (await fetch(`${api()}/healthz`)).status === 200);
  for (const svc of ["supervisor", "api", ...(profiles ? ["postgres"] : [])]) {
    await until(`${svc} container healthy`, 120_000, () => health(svc) === "healthy");
  }
  step(`up (${profiles || "sqlite"}): healthy in ${secs(t)}`);
}

const containerId = (svc: string) => dc(["ps", "-q", svc]).trim().split("\n")[0]!;
const health = (svc: string) => must(["docker", "inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", containerId(svc)]).trim();
const startedAt = (svc: string) => must(["docker", "inspect", "-f", "{{.State.StartedAt}}", containerId(svc)]).trim();
const logs = () => run([...compose, "--env-file", envFile, "-p", PROJECT, "-f", join(ROOT, "compose.yaml"), "logs", "--no-color", "--tail", "80"], { env: { ...composeEnv(), COMPOSE_PROFILES: "postgres" } });

// ---- the REST API -----------------------------------------------------------------------------

const api = () => `http://127.0.0.1:${API_PORT}`;
async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${api()}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function ruleStats(id: string): Promise<{ rxPackets: number; txPackets: number }> {
  const s = await call("GET", "/api/v1/stats");
  if (s.status !== 200) throw new Error(`GET /api/v1/stats: ${s.status} ${JSON.stringify(s.body)}`);
  const r = s.body.rules.find((x: any) => x.id === id);
  if (!r) throw new Error(`rule ${id} not in /api/v1/stats`);
  return r;
}

// ---- the network: relay-side veth ends in the host namespace ----------------------------------

interface Net {
  lab: Lab;
  src: string;
  dst: string;
  hostIn: string;
  hostOut: string;
}

function hostVeth(lab: Lab, hostIf: string, ns: string, hostAddr: string, nsAddr: string): void {
  if (run(["ip", "link", "show", "dev", hostIf]).code === 0) throw new Error(`interface ${hostIf} exists already`);
  // Made directly as a pair with one end in ns; deleting either end (or ns) removes both.
  must(["ip", "link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", ns]);
  onCleanup(`delete ${hostIf}`, () => run(["ip", "link", "del", "dev", hostIf]));
  // IPv6 off before the links come up: no router solicitations or MLD from either end.
  must(["sysctl", "-qw", `net.ipv6.conf.${hostIf}.disable_ipv6=1`]);
  lab.sysctl(ns, "net.ipv6.conf.eth0.disable_ipv6", "1");
  must(["ip", "addr", "add", hostAddr, "dev", hostIf]);
  must(["ip", "-n", ns, "addr", "add", nsAddr, "dev", "eth0"]);
  must(["ip", "link", "set", hostIf, "up"]);
  must(["ip", "-n", ns, "link", "set", "eth0", "up"]);
}

async function makeNet(): Promise<Net> {
  const lab = Lab.create("c"); // namespaces mcrc<hex>-src/-dst, destroyed on exit too
  onCleanup("destroy namespaces", () => lab.destroy());
  const src = lab.ns("src");
  const dst = lab.ns("dst");
  const hostIn = `mcr${lab.id}i`;
  const hostOut = `mcr${lab.id}o`;
  // Benchmarking addresses (198.18.0.0/15), a /24 the host does not use yet.
  const used = must(["ip", "-4", "-o", "addr", "show"]) + must(["ip", "-4", "route", "show", "table", "all"]);
  let n = 0;
  for (let i = 0; i < 50 && !n; i++) {
    const c = 1 + Math.floor(Math.random() * 254);
    if (!used.includes(`198.18.${c}.`) && !used.includes(`198.19.${c}.`)) n = c;
  }
  if (!n) throw new Error("no free 198.18.x.0/24 and 198.19.x.0/24 on this host");
  hostVeth(lab, hostIn, src, `198.18.${n}.1/24`, `198.18.${n}.2/24`);
  hostVeth(lab, hostOut, dst, `198.19.${n}.1/24`, `198.19.${n}.2/24`);
  lab.sh(src, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
  lab.sysctl(dst, "net.core.rmem_max", String(8 << 20));
  const upNow = (ns: string | null, dev: string) => /state UP/.test(lab.sh(ns, ["ip", "-o", "link", "show", "dev", dev]).stdout);
  await until("veths up", 5000, () => upNow(null, hostIn) && upNow(null, hostOut) && upNow(src, "eth0") && upNow(dst, "eth0"));
  step(`network: ${src} --eth0|${hostIn}-- relay (host) --${hostOut}|eth0-- ${dst}`);
  return { lab, src, dst, hostIn, hostOut };
}

/** Sends count packets at rate from src and checks dst got each exactly once. during runs meanwhile. */
async function traffic(net: Net, what: string, port: number, count: number, rate: number, during?: () => Promise<void>): Promise<void> {
  const sink = startSink(net.lab, net.dst, ["--group", "239.2.2.2", "--port", String(port + 1000), "--interface", "eth0",
    "--expect", String(count), "--timeout", "90000", "--idle", "5000"]);
  await sink.ready;
  const genArgs = ["--group", "239.1.1.1", "--port", String(port), "--interface", "eth0", "--rate", String(rate), "--size", "200", "--count", String(count)];
  let sent: number;
  if (during) {
    const g = spawnGen(net.lab, net.src, genArgs);
    await Bun.sleep(500);
    await during();
    sent = (await g.done).sent;
  } else sent = (await runGen(net.lab, net.src, genArgs)).sent;
  const r = await sink.result;
  check(`${what}: ${count} packets sent, each received exactly once`,
    sent === count && r.unique === count && r.duplicates === 0 && r.missing === 0 && r.corrupted === 0,
    { sent, unique: r.unique, duplicates: r.duplicates, missing: r.missing, corrupted: r.corrupted });
}

// ---- the test ---------------------------------------------------------------------------------

async function addRule(net: Net, port: number, name: string): Promise<string> {
  const c = await call("POST", "/api/v1/rules", {
    name, input: { interface: net.hostIn, group: "239.1.1.1", port },
    outputs: [{ interface: net.hostOut, group: "239.2.2.2", port: port + 1000, ttl: 4 }],
  });
  check(`POST /api/v1/rules → 201, rule active`, c.status === 201 && c.body.state === "active", c);
  return c.body.id;
}

async function sqlitePart(net: Net): Promise<void> {
  profiles = "";
  await up();
  check("no token → 401", (await fetch(`${api()}/api/v1/rules`)).status === 401);
  const id = await addRule(net, 5000, "compose-e2e");
  await traffic(net, "through the relay in compose", 5000, 2000, 2000);
  let st = await ruleStats(id);
  check("the API reads the counters from the shared segment", st.rxPackets === 2000 && st.txPackets === 2000, st);

  const before = startedAt("api");
  await traffic(net, "while the api container restarts", 5000, 6000, 1000, async () => {
    const t = performance.now();
    dc(["restart", "-t", "10", "api"], 120_000);
    step(`api container restarted in ${secs(t)}`);
  });
  check("the api container was restarted", startedAt("api") !== before);
  await until("/healthz 200 after the restart", 60_000, async () => (await fetch(`${api()}/healthz`)).status === 200);
  const rules = await call("GET", "/api/v1/rules");
  check("the rule is still stored (SQLite volume)", rules.status === 200 && rules.body.rules.some((r: any) => r.id === id), rules.body);
  await traffic(net, "after the restart", 5000, 1000, 2000);
  st = await ruleStats(id);
  check("counters survive the api restart", st.rxPackets === 9000 && st.txPackets === 9000, st);
  await until("api container healthy again", 120_000, () => health("api") === "healthy");

  // The supervisor's container restarts: a new segment, and the rules come back from the API.
  const supBefore = startedAt("supervisor");
  const apiBefore = startedAt("api");
  dc(["restart", "-t", "20", "supervisor"], 120_000);
  check("the supervisor container was restarted", startedAt("supervisor") !== supBefore);
  await until("the rule is active again after the supervisor restart", 60_000, async () => (await call("GET", `/api/v1/rules/${id}`)).body?.state === "active");
  await traffic(net, "after the supervisor restart", 5000, 1000, 2000);
  st = await until("the API reads the new segment", 30_000, async () => {
    const s = await ruleStats(id);
    return s.txPackets === 1000 ? s : null;
  });
  check("counters of the new supervisor through the API", st.rxPackets === 1000 && st.txPackets === 1000, st);
  step(`the api container ${startedAt("api") !== apiBefore ? "restarted to map the new segment" : "went on (mapped the new segment itself)"}`);
  await until("both containers healthy again", 120_000, () => health("api") === "healthy" && health("supervisor") === "healthy");
  dc(["down", "-v", "-t", "20"]);
  step("down -v");
}

async function postgresPart(net: Net): Promise<void> {
  profiles = "postgres";
  await up();
  const id = await addRule(net, 5100, "compose-e2e-pg");
  const psql = () => dc(["exec", "-T", "postgres", "psql", "-h", "/var/run/postgresql", "-U", "postgres", "-d", "mcrelay", "-Atc", "select id from rules"]).trim();
  check("the rule is stored in PostgreSQL", psql().split("\n").includes(id), psql());
  await traffic(net, "with the postgres profile", 5100, 2000, 2000);
  dc(["restart", "-t", "10", "api"], 120_000);
  await until("/healthz 200 after the restart", 60_000, async () => (await fetch(`${api()}/healthz`)).status === 200);
  const rules = await call("GET", "/api/v1/rules");
  check("the rule comes back from PostgreSQL", rules.status === 200 && rules.body.rules.length === 1 && rules.body.rules[0].id === id, rules.body);
  await traffic(net, "after the api restart (postgres)", 5100, 1000, 2000);
}

async function main(): Promise<void> {
  requireRoot();
  writeFileSync(envFile, "");
  onCleanup("remove the work directory", () => rmSync(WORK, { recursive: true, force: true }));
  ensureTools();
  await ensureDockerd();
  await ensureBase();
  copyCertificates();
  await buildImages();
  API_PORT = await freePort();
  onCleanup("remove the compose project", () => {
    removeProject();
    step(`compose project ${PROJECT} removed (containers, network, volumes)`);
  });
  // The config must be acceptable to this compose before anything runs.
  dc(["config", "-q"]);
  const net = await makeNet();
  try {
    await sqlitePart(net);
    if (WITH_POSTGRES) await postgresPart(net);
  } catch (e) {
    console.error(`--- compose logs ---\n${logs().out}`);
    throw e;
  }
}

let failed = 0;
try {
  await main();
} catch (e) {
  failed = 1;
  console.error(`\n${(e as Error).stack ?? e}`);
} finally {
  cleanup();
}
step(`done in ${secs(t0)}`);
console.log(`compose: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
