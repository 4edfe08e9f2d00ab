#!/usr/bin/env bun
// mcrelay command line: start | stats | gen | sink
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { ConfigError, loadConfigFile } from "../rules/load.ts";
import { configSchema } from "../rules/schema.ts";
import { readTune } from "../services/tune.ts";

const USAGE = `usage: bun run mcrelay <command> [options]

commands:
  start   run the relay in the foreground (supervisor and workers)
            --config FILE       rules file (JSON)
            --workers N         ingress/egress pairs (default: number of CPUs)
            --state-dir DIR     state, status.json and the segment's name (default ./var)
            --api-listen ADDR   REST API address, HOST:PORT or unix:/PATH (default 127.0.0.1:8080)
            --no-api            run without the REST API (rules from --config only)
            --external-api      the API runs on its own (e.g. its own container) and owns the rules
            --user NAME         unprivileged user of the workers (default nobody)
            --log-level LEVEL   trace|debug|info|warn|error (default info)
  rules   add | ls | show | rm | edit         manage rules through the REST API
  apply   -f FILE [--dry-run] [--no-prune]   make a rules file the desired state (shows the diff)
  export                                     print every rule as a rules file
  stats   [--json]                           counters per rule and worker
  top     [--once]                           live rules, rates, drops and workers (every second)
          (API address and token: --api ADDR --token T, or MCRELAY_API / MCRELAY_API_TOKEN,
           or --state-dir DIR of a local relay)
  gen     traffic generator (see: mcrelay gen --help)
  sink    verifying receiver (see: mcrelay sink --help)
  demo    as root: a throw-away lab of namespaces, the relay, traffic and a verdict`;

async function start(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      config: { type: "string" }, workers: { type: "string" }, "state-dir": { type: "string", default: "var" },
      "api-listen": { type: "string", default: "127.0.0.1:8080" }, user: { type: "string", default: "nobody" },
      "log-level": { type: "string", default: "info" }, "max-rules": { type: "string", default: "16384" },
      "no-api": { type: "boolean", default: false }, "external-api": { type: "boolean", default: false },
    },
  });
  const workers = v.workers === undefined ? availableParallelism() : Number(v.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new ConfigError(`--workers must be 1–64, got ${v.workers}`);
  const maxRules = Number(v["max-rules"]);
  if (!Number.isInteger(maxRules) || maxRules < 1 || maxRules > 65536) throw new ConfigError(`--max-rules must be 1–65536`);
  if (!/^([^:]+:\d{1,5}|unix:\/.+)$/.test(v["api-listen"]!)) throw new ConfigError(`--api-listen must be HOST:PORT or unix:/PATH, got ${v["api-listen"]}`);
  if (process.getuid!() !== 0) throw new ConfigError("start needs root (CAP_NET_RAW and CAP_NET_ADMIN) for its sockets; workers drop to --user");
  try {
    readTune();
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const config = v.config ? loadConfigFile(v.config) : configSchema.parse({});
  const { Relay } = await import("../services/supervisor/relay.ts");
  const relay = new Relay({ config, workers, stateDir: v["state-dir"]!, user: v.user!, logLevel: v["log-level"]!, maxRules,
    apiListen: v["no-api"] || v["external-api"] ? null : v["api-listen"]!, externalApi: v["external-api"], configPath: v.config });
  let signals = 0;
  const onSignal = (sig: string) => {
    if (++signals > 1) {
      relay.log.warn({ signal: sig }, "second signal: exiting at once");
      relay.cleanup();
      process.exit(130);
    }
    relay.log.info({ signal: sig }, "stopping");
    relay.stop(0).then((code) => process.exit(code));
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGHUP", () => void relay.reload());
  try {
    await relay.start();
  } catch (e) {
    relay.log.error({ err: (e as Error).message }, "start-up failed");
    await relay.stop(1);
    return 1;
  }
  return await new Promise<number>(() => {}); // runs until a signal
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "start": return await start(rest);
      case "rules": case "apply": case "export": case "stats": case "top":
        return await (await import("../cli/index.ts")).main(cmd, rest);
      case "gen": return await (await import("../lab/gen.ts")).main(rest);
      case "sink": return await (await import("../lab/sink.ts")).main(rest);
      case "demo": return await (await import("../lab/demo.ts")).main(rest);
      case undefined: case "help": case "--help": case "-h":
        console.log(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        console.error(`mcrelay: unknown command "${cmd}"\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof ConfigError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`mcrelay ${cmd}: ${(e as Error).message}`);
      return 2;
    }
    throw e;
  }
}

process.exit(await main(process.argv.slice(2)));
