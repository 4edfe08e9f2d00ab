// An address to listen on: HOST:PORT ([IPv6]:PORT) or unix:/PATH.
import { ConfigError } from "./environment.ts";

export type Listen = { unix: string; host?: undefined; port?: undefined } | { unix?: undefined; host: string; port: number };

/** flag: how the user gave it, for the message ("--api-listen"). Port 0: any free port. */
export function parseListen(flag: string, s: string): Listen {
  if (s.startsWith("unix:")) {
    const path = s.slice(5);
    if (!path.startsWith("/")) throw new ConfigError(`${flag} unix:PATH needs an absolute path, got "${s}"`);
    return { unix: path };
  }
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s\[\]]+):(\d{1,5})$/.exec(s);
  if (!m) throw new ConfigError(`${flag} must be HOST:PORT or unix:/PATH, got "${s}"`);
  const port = Number(m[2]);
  if (port > 65535) throw new ConfigError(`${flag} port must be 0–65535, got ${port}`);
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}
