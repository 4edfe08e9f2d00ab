// Every process's logger: pino, as JSON lines, or — for a person at a terminal — one coloured
// line per event through pino-pretty. The supervisor decides the format (--log-format, else
// MCRELAY_LOG_FORMAT, else pretty when its stdout is a terminal) and hands it to the workers and
// the API in MCRELAY_LOG_FORMAT: they write to the same inherited stdout.
import pino from "pino";
import pretty from "pino-pretty";

export const LOG_FORMATS = ["pretty", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** What a process logs as when nobody said: pretty on a terminal, JSON anywhere else. */
export function defaultLogFormat(): LogFormat {
  return process.stdout.isTTY ? "pretty" : "json";
}

/** The format handed down by the supervisor, or this process's own default. */
export function inheritedLogFormat(env: Record<string, string | undefined> = process.env): LogFormat {
  const f = env.MCRELAY_LOG_FORMAT;
  return (LOG_FORMATS as readonly string[]).includes(f ?? "") ? (f as LogFormat) : defaultLogFormat();
}

export function makeLogger(base: Record<string, unknown>, level: string, format: LogFormat): pino.Logger {
  if (format === "json") return pino({ base, level });
  // sync: a line is out before the process exits (workers exit with process.exit); the cost is
  // one write per event, and events are rare (nothing is logged per packet).
  const stream = pretty({
    sync: true,
    singleLine: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "hostname,pid,component,worker",
    // "ingress 0: config applied" (a template's {if worker} would hide worker 0)
    messageFormat: (log, key) => `${log.component}${log.worker !== undefined ? ` ${log.worker}` : ""}: ${log[key]}`,
    // `err` (a string or an Error) stays on the event's one line. pino-pretty always treats
    // pino's errorKey as an error to print over several lines: that key is moved to one no
    // event uses.
    errorLikeObjectKeys: [],
  });
  return pino({ base, level, errorKey: "mcrelayUnusedErrorKey" }, stream);
}
