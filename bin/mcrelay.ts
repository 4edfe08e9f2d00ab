#!/usr/bin/env bun
// mcrelay command line: start, the API client commands (cli/), the lab tools (lab/).
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { ConfigError as RulesConfigError } from "../rules/load.ts";
import { ConfigError, DEFAULT_STATE_DIR, START_USAGE, parseStart, preflight } from "../services/startup/start.ts";

const USAGE = `usage: mcrelay <command> [options]     (each command: --help)

commands:
  start   run the relay in the foreground (supervisor, workers, REST API)
  rules   add | set | ls | show | rm | edit   manage rules through the REST API
  links   add | set | ls | show | rm          manage links (synthetic networks) through the REST API
  apply   -f FILE [--dry-run] [--no-prune]   make a rules file the desired state (shows the diff)
  export                                     print every rule and link as a rules file
  stats   [--json]                           counters per rule and worker
  top     [--once]                           live rules, rates, drops and workers (every second)
  capture ID [--link] [--count N] [-w FILE]  a pcap of a rule's (link's) next packets
          (API address and token: --api ADDR --token T, or MCRELAY_API / MCRELAY_API_TOKEN,
           or --state-dir DIR of a local relay, default ${DEFAULT_STATE_DIR})
  gen     traffic generator
  sink    verifying receiver
  demo    as root: a throw-away lab of namespaces, the relay, traffic and a verdict
  shape   [--loss P] [--delay MS] [--jitter MS] [--rate BPS] [--link-config FILE] -- COMMAND…
          as root: run COMMAND in a throw-away namespace behind an impaired link through mcrelay`;

/**
 * A signal sent to the process group (Ctrl-C, `kill -- -PGID`) also reaches a wrapper in that
 * group that forwards what it gets — `bun run`, make — so it arrives twice within a few
 * milliseconds. Under such a parent that is one request, not a second "stop now" or a second
 * reload. Started any other way (directly, by systemd, by a test), a second signal is a second.
 */
const DUPLICATE_MS = 150;
const PARENT_FORWARDS = (() => {
  try {
    const argv = readFileSync(`/proc/${process.ppid}/cmdline`, "utf8").split("\0");
    const name = basename(argv[0]);
    return name === "make" || name === "gmake" || (/^bun(\.exe)?$/.test(name) && argv[1] === "run");
  } catch {
    return false;
  }
})();
const lastSignal = new Map<string, number>();
function duplicate(sig: string): boolean {
  const now = performance.now();
  const prev = lastSignal.get(sig);
  lastSignal.set(sig, now);
  return PARENT_FORWARDS && prev !== undefined && now - prev < DUPLICATE_MS;
}

async function start(argv: string[]): Promise<number> {
  const o = parseStart(argv);
  if (!o) {
    console.log(START_USAGE);
    return 0;
  }
  const warnings: string[] = [];
  await preflight(o, (w) => warnings.push(w));
  const { Relay, StartupConfigError } = await import("../services/supervisor/relay.ts");
  const relay = new Relay(o);
  for (const w of warnings) relay.log.warn({}, w);
  let signals = 0;
  const onSignal = (sig: string) => {
    if (duplicate(sig)) return;
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
  process.on("SIGHUP", () => duplicate("SIGHUP") || void relay.reload());
  try {
    await relay.start();
  } catch (e) {
    const config = e instanceof StartupConfigError;
    relay.log.error({ err: (e as Error).message }, "start-up failed");
    if (config) console.error(`mcrelay start: ${(e as Error).message}`);
    await relay.stop(config ? 2 : 1);
    return config ? 2 : 1;
  }
  return await new Promise<number>(() => {}); // runs until a signal
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "start": return await start(rest);
      case "rules": case "links": case "apply": case "export": case "stats": case "top": case "capture":
        return await (await import("../cli/index.ts")).main(cmd, rest);
      case "gen": return await (await import("../lab/gen.ts")).main(rest);
      case "sink": return await (await import("../lab/sink.ts")).main(rest);
      case "demo": return await (await import("../lab/demo.ts")).main(rest);
      case "shape": return await (await import("../lab/shape/main.ts")).main(rest);
      case undefined:
        console.error(USAGE);
        return 2;
      case "help": case "--help": case "-h":
        console.log(USAGE);
        return 0;
      default:
        console.error(`mcrelay: unknown command "${cmd}"\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof ConfigError || e instanceof RulesConfigError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`mcrelay ${cmd}: ${(e as Error).message}`);
      return 2;
    }
    throw e;
  }
}

process.exit(await main(process.argv.slice(2)));
