// Options every command takes, and turning them into an API client.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { DEFAULT_STATE_DIR } from "../services/protocol/status.ts";
import { Client, resolveTarget, type ConnectOpts } from "./client.ts";

export const commonOptions = {
  api: { type: "string" },
  token: { type: "string" },
  "state-dir": { type: "string", default: DEFAULT_STATE_DIR },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

export const COMMON_USAGE = `API address and token, first found: --api ADDR --token T (ADDR: http://HOST:PORT, HOST:PORT or
unix:/PATH); MCRELAY_API and MCRELAY_API_TOKEN; the relay running with --state-dir DIR (default
${DEFAULT_STATE_DIR}).
--json prints machine-readable output.`;

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parse<const O extends Options>(argv: string[], options: O) {
  return parseArgs({ args: argv, options: { ...commonOptions, ...options }, strict: true, allowPositionals: true, allowNegative: true });
}

export function connectOpts(v: { api?: string; token?: string; "state-dir"?: string }): ConnectOpts {
  return { api: v.api, token: v.token, stateDir: v["state-dir"] ?? DEFAULT_STATE_DIR };
}

export const connect = (v: { api?: string; token?: string; "state-dir"?: string }) => new Client(resolveTarget(connectOpts(v)));
