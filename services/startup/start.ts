// `mcrelay start`: its flags, and every check that can be made before anything runs, so that a
// bad flag, variable, file, user, port or database stops start-up at once (exit 2) with one line
// naming it — instead of a relay that says "ready" while its API fails again and again.
import { readFileSync } from "node:fs";
import { availableParallelism, hostname } from "node:os";
import { parseArgs } from "node:util";
import { loadConfigFile, ConfigError as RulesConfigError } from "../../rules/load.ts";
import { configSchema, type Config } from "../../rules/config.ts";
import { nodeName } from "../../rules/schema.ts";
import { resolve } from "node:path";
import { blockedAncestor } from "../supervisor/reachable.ts";
import type { RelayOptions } from "../supervisor/relay.ts";
import { lookupUser } from "../supervisor/workers.ts";
import { DEFAULT_STATE_DIR } from "../protocol/status.ts";
import { ConfigError, LOG_LEVELS, readEnvironment, type Environment } from "./environment.ts";
import { parseListen } from "./listen.ts";
import { LOG_FORMATS, defaultLogFormat, type LogFormat } from "../logging.ts";
import { allowedCpus, lowLatencyArg, lowLatencyCpus } from "./low-latency.ts";

export { ConfigError };

export { DEFAULT_STATE_DIR };
export const DEFAULT_USER = "mcrelay";

export const START_USAGE = `usage: mcrelay start [options]
  Runs the relay in the foreground: the supervisor (as root), its workers and the REST API (as --user).
  --config FILE       rules file (JSON); re-read on SIGHUP
  --workers N         ingress/egress worker pairs, 1–64 (default: the number of CPUs)
  --state-dir DIR     status.json, the control socket, the API's store (default ${DEFAULT_STATE_DIR})
  --api-listen ADDR   REST API address, HOST:PORT or unix:/PATH (default 127.0.0.1:8080)
  --no-api            run without the REST API (rules from --config only)
  --external-api      the API runs on its own (e.g. its own container) and owns the rules
  --user NAME         unprivileged user of the workers and the API (default ${DEFAULT_USER}, made by make setup)
  --node NAME         this relay's name in a fleet sharing one PostgreSQL store (default MCRELAY_NODE, else the host name)
  --max-rules N       most rules the relay holds, 1–65536 (default 16384)
  --log-level LEVEL   ${LOG_LEVELS.join("|")} (default info)
  --log-format F      ${LOG_FORMATS.join("|")}: one coloured line per event, or JSON lines
                      (default: pretty when stdout is a terminal, else json; or MCRELAY_LOG_FORMAT)
  --low-latency [CPUS]  workers busy-poll instead of sleeping while traffic flows, pinned to CPUS
                      (e.g. 2,3 or 2-5; auto, the default: the highest-numbered CPU, both workers
                      of the pair on it). Each busy-polling CPU is spent whole while traffic flows.
                      Without --workers: a pair per two CPUs given (auto: one)
  A bad flag, variable or file stops start-up with exit code 2, naming it.`;

/** What the relay is started with, and the environment it was checked against. */
export interface StartOptions extends RelayOptions {
  externalApi: boolean;
  env: Environment;
}

const int = (flag: string, v: string, min: number, max: number) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${flag} must be ${min}–${max}, got "${v}"`);
  return n;
};

/** Parses and checks the flags and the environment; null for --help. */
export function parseStart(argv: string[]): StartOptions | null {
  let v;
  try {
    ({ values: v } = parseArgs({
      args: lowLatencyArg(argv),
      strict: true,
      options: {
        config: { type: "string" }, workers: { type: "string" }, "state-dir": { type: "string", default: DEFAULT_STATE_DIR },
        "api-listen": { type: "string", default: "127.0.0.1:8080" }, user: { type: "string" },
        "log-level": { type: "string" }, "log-format": { type: "string" }, "max-rules": { type: "string", default: "16384" }, node: { type: "string" },
        "no-api": { type: "boolean", default: false }, "external-api": { type: "boolean", default: false },
        "low-latency": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  if (v.help) return null;
  const env = readEnvironment();
  const given = v.workers === undefined ? undefined : int("--workers", v.workers, 1, 64);
  const busyPoll = v["low-latency"] === undefined ? undefined : lowLatencyCpus(v["low-latency"], given, allowedCpus());
  const workers = busyPoll?.length ?? given ?? Math.min(64, availableParallelism());
  const maxRules = int("--max-rules", v["max-rules"]!, 1, 65536);
  const logLevel = v["log-level"] ?? env.MCRELAY_LOG_LEVEL ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
  const node = v.node ?? env.MCRELAY_NODE ?? hostname();
  if (!nodeName.safeParse(node).success) {
    const from = v.node !== undefined ? "--node" : env.MCRELAY_NODE !== undefined ? "MCRELAY_NODE" : `the host name (the default of --node)`;
    throw new ConfigError(`${from} "${node}" is not a node name: 1–64 of A–Z a–z 0–9 . _ -, starting with a letter or digit${v.node === undefined && env.MCRELAY_NODE === undefined ? "; give one with --node" : ""}`);
  }
  const logFormat = v["log-format"] ?? env.MCRELAY_LOG_FORMAT ?? defaultLogFormat();
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) throw new ConfigError(`--log-format must be one of ${LOG_FORMATS.join(", ")}, got "${logFormat}"`);
  if (v["no-api"] && v["external-api"]) throw new ConfigError("--no-api and --external-api cannot be combined");
  const apiListen = v["no-api"] || v["external-api"] ? null : v["api-listen"]!;
  if (apiListen) parseListen("--api-listen", apiListen);
  let config: Config;
  try {
    config = v.config ? loadConfigFile(v.config) : configSchema.parse({});
  } catch (e) {
    if (e instanceof RulesConfigError) throw new ConfigError(e.message);
    throw e;
  }
  return { config, configPath: v.config, workers, stateDir: v["state-dir"]!, user: v.user ?? DEFAULT_USER, logLevel,
    logFormat: logFormat as LogFormat, maxRules, apiListen, externalApi: v["external-api"]!, node, env, ...(busyPoll ? { busyPoll } : {}) };
}

/** The checks that need the system: who runs, the user, the API's port and database. */
export async function preflight(o: StartOptions, warn: (msg: string) => void): Promise<void> {
  if (process.getuid!() !== 0) throw new ConfigError("start needs root (CAP_NET_RAW and CAP_NET_ADMIN) for its sockets; workers and the API drop to --user");
  let user;
  try {
    user = lookupUser(o.user);
  } catch (e) {
    const hint = o.user === DEFAULT_USER ? " (make setup creates it; or name another with --user)" : "";
    throw new ConfigError(`--user ${o.user}: ${(e as Error).message.replace(/ \(--user\)$/, "")}${hint}`);
  }
  // The unprivileged API keeps its store in <state-dir>/api: it must be able to get there.
  const blocked = o.apiListen ? blockedAncestor(resolve(o.stateDir), user) : null;
  if (blocked) {
    throw new ConfigError(`--state-dir ${resolve(o.stateDir)}: the API runs as ${user.name} and cannot reach it: ${blocked.path} ` +
      `(mode ${blocked.mode}, owner uid ${blocked.uid}) is not searchable by ${user.name}. Use a state directory ` +
      `whose parents ${user.name} can pass through (the default ${DEFAULT_STATE_DIR}), or chmod o+x ${blocked.path}`);
  }
  if (user.name === "nobody") warn("--user nobody: every other nobody process can read the API token and counters; give mcrelay a user of its own");
  if (o.apiListen) {
    const l = parseListen("--api-listen", o.apiListen);
    if (l.unix === undefined) await checkPort(l.host, l.port, user.uid);
    if (o.env.DATABASE_URL) await checkDatabase(o.env.DATABASE_URL);
  }
}

/** The API (unprivileged) must be able to listen there: a privileged or busy port fails now. */
async function checkPort(host: string, port: number, uid: number): Promise<void> {
  if (port !== 0 && port < unprivilegedPortStart() && uid !== 0) {
    throw new ConfigError(`--api-listen ${host}:${port}: the API runs unprivileged and cannot listen on a port below ${unprivilegedPortStart()}`);
  }
  try {
    const s = Bun.listen({ hostname: host, port, socket: { data() {} } });
    s.stop(true);
  } catch (e) {
    const code = (e as { code?: string }).code ?? "";
    const why = code === "EADDRINUSE" ? "the port is in use" : code === "EADDRNOTAVAIL" ? "no interface has that address" : (e as Error).message;
    throw new ConfigError(`--api-listen ${host}:${port}: cannot listen there: ${why}`);
  }
}

function unprivilegedPortStart(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8").trim());
  } catch {
    return 1024;
  }
}

/** The PostgreSQL server answers and lets us in (within a second, or start-up says it does not). */
async function checkDatabase(url: string): Promise<void> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 900 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (e) {
    throw new ConfigError(`DATABASE_URL: cannot use the PostgreSQL server: ${(e as Error).message}`);
  } finally {
    await client.end().catch(() => {});
  }
}
