// The environment variables mcrelay reads, checked in one place: a bad value stops start-up with
// the variable's name and why (exit 2), in the supervisor before anything runs and in an API that
// runs on its own. Unset and empty mean the same (compose passes unset variables as "").
import { parse as parsePg } from "pg-connection-string";
import { z } from "zod";
import { nodeName } from "../../rules/schema.ts";
import { LOG_FORMATS } from "../logging.ts";
import { readTune } from "../tune.ts";

export class ConfigError extends Error {}

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** RFC 6750's token68: what a bearer token may hold, or no Authorization header can carry it. */
const TOKEN68 = /^[A-Za-z0-9._~+/-]+=*$/;

const url = (name: string, schemes: string[]) =>
  z.string().refine((s) => {
    try {
      const u = new URL(s);
      return schemes.includes(u.protocol) && (u.hostname !== "" || u.searchParams.has("host"));
    } catch {
      return false;
    }
  }, { message: `${name} must be a ${schemes.map((x) => x.replace(/:$/, "://…")).join(" or ")} URL` });

/** Each variable: its schema, and what it is for (the README's table says the same). */
export const ENVIRONMENT = {
  MCRELAY_API_TOKEN: z.string()
    .min(16, "MCRELAY_API_TOKEN must be at least 16 characters")
    .regex(TOKEN68, "MCRELAY_API_TOKEN may hold only A–Z a–z 0–9 - . _ ~ + / (and = at the end): it must fit in an Authorization header"),
  // pg's own syntax (a Unix socket as ?host=/dir, no host in the authority) is not a WHATWG URL.
  DATABASE_URL: z.string().refine((s) => /^postgres(ql)?:\/\/[^\s]*$/.test(s) && !!parsePg(s).host,
    { message: "DATABASE_URL must be a postgres://… or postgresql://… URL with a host (or ?host=/socket/dir)" }),
  OTEL_EXPORTER_OTLP_ENDPOINT: url("OTEL_EXPORTER_OTLP_ENDPOINT", ["http:", "https:"]),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ["http:", "https:"]),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(["http/protobuf", "http/json"], { error: "OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (grpc is not supported)" }),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.enum(["http/protobuf", "http/json"], { error: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be http/protobuf or http/json" }),
  OTEL_TRACES_EXPORTER: z.enum(["otlp", "none"], { error: "OTEL_TRACES_EXPORTER must be otlp or none" }),
  MCRELAY_NODE: z.string().refine((s) => nodeName.safeParse(s).success, { message: "MCRELAY_NODE must be a node name: 1–64 of A–Z a–z 0–9 . _ -, starting with a letter or digit" }),
  MCRELAY_LOG_LEVEL: z.enum(LOG_LEVELS, { error: `MCRELAY_LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}` }),
  MCRELAY_LOG_FORMAT: z.enum(LOG_FORMATS, { error: `MCRELAY_LOG_FORMAT must be one of ${LOG_FORMATS.join(", ")}` }),
  MCRELAY_TRACING: z.enum(["on", "off"], { error: "MCRELAY_TRACING must be on or off (off leaves sampling out of the packet path)" }),
} as const;

export type Environment = { [K in keyof typeof ENVIRONMENT]?: z.output<(typeof ENVIRONMENT)[K]> };

/** The variables, checked; throws ConfigError naming the first bad one. Also checks MCRELAY_TUNE_*. */
export function readEnvironment(env: Record<string, string | undefined> = process.env): Environment {
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(ENVIRONMENT)) {
    const v = env[name];
    if (v === undefined || v === "") continue;
    const r = (schema as z.ZodType).safeParse(v);
    if (!r.success) throw new ConfigError(`${r.error.issues[0].message} (got "${name === "MCRELAY_API_TOKEN" ? "…" : v}")`);
    out[name] = r.data;
  }
  try {
    readTune(env);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  return out as Environment;
}
