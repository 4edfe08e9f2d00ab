#!/usr/bin/env bun
// mcrelay command line: start | stats | gen | sink
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { ConfigError, loadConfigFile } from "../rules/load.ts";
import { configSchema } from "../rules/schema.ts";

const USAGE = `usage: bun run mcrelay <command> [options]

commands:
  start   run the relay in the foreground (supervisor and workers)
            --config FILE       rules file (JSON)
            --workers N         ingress/egress pairs (default: number of CPUs)
            --state-dir DIR     state, status.json and the segment's name (default ./var)
            --api-listen H:P    REST API address (default 127.0.0.1:8080)
            --user NAME         unprivileged user of the workers (default nobody)
            --log-level LEVEL   trace|debug|info|warn|error (default info)
  stats   print a running relay's counters  [--state-dir DIR] [--json]
  gen     traffic generator (see: mcrelay gen --help)
  sink    verifying receiver (see: mcrelay sink --help)`;

async function start(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      config: { type: "string" }, workers: { type: "string" }, "state-dir": { type: "string", default: "var" },
      "api-listen": { type: "string", default: "127.0.0.1:8080" }, user: { type: "string", default: "nobody" },
      "log-level": { type: "string", default: "info" }, "max-rules": { type: "string", default: "1024" },
    },
  });
  const workers = v.workers === undefined ? availableParallelism() : Number(v.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new ConfigError(`--workers must be 1–64, got ${v.workers}`);
  const maxRules = Number(v["max-rules"]);
  if (!Number.isInteger(maxRules) || maxRules < 1 || maxRules > 65536) throw new ConfigError(`--max-rules must be 1–65536`);
  if (!/^[^:]+:\d{1,5}$/.test(v["api-listen"]!)) throw new ConfigError(`--api-listen must be HOST:PORT, got ${v["api-listen"]}`);
  if (process.getuid!() !== 0) throw new ConfigError("start needs root (CAP_NET_RAW and CAP_NET_ADMIN) for its sockets; workers drop to --user");
  const config = v.config ? loadConfigFile(v.config) : configSchema.parse({});
  const { Relay } = await import("../services/supervisor/relay.ts");
  const relay = new Relay({ config, workers, stateDir: v["state-dir"]!, user: v.user!, logLevel: v["log-level"]!, maxRules });
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
  try {
    await relay.start();
  } catch (e) {
    relay.log.error({ err: (e as Error).message }, "start-up failed");
    await relay.stop(1);
    return 1;
  }
  return await new Promise<number>(() => {}); // runs until a signal
}

async function stats(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({ args: argv, strict: true, options: { "state-dir": { type: "string", default: "var" }, json: { type: "boolean" } } });
  const { readStats } = await import("../shm/stats.ts");
  const s = readStats(v["state-dir"]!);
  if (v.json) {
    console.log(JSON.stringify(s, null, 2));
    return 0;
  }
  console.log("rule".padEnd(24), "state".padEnd(8), "rx pkts".padStart(12), "tx pkts".padStart(12), "tx bytes".padStart(14));
  for (const r of s.rules) {
    console.log((r.name ?? r.id).slice(0, 24).padEnd(24), r.state.padEnd(8), String(r.rxPackets).padStart(12), String(r.txPackets).padStart(12), String(r.txBytes).padStart(14));
  }
  const drops = Object.entries(s.drops).filter(([, n]) => n > 0);
  console.log("drops:", drops.length ? drops.map(([k, n]) => `${k}=${n}`).join(" ") : "none");
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "start": return await start(rest);
      case "stats": return await stats(rest);
      case "gen": return await (await import("../lab/gen.ts")).main(rest);
      case "sink": return await (await import("../lab/sink.ts")).main(rest);
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
