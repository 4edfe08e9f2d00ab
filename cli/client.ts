// Where the API is and which token it takes (flags, then environment, then the local relay's
// state directory), and a small fetch wrapper that turns every failure into a readable error.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readStatus } from "../services/protocol/status.ts";
import { ApiError, CliError, type Issue } from "./errors.ts";

export interface Endpoint {
  /** http://host:port, or http://localhost for a Unix socket */
  base: string;
  unix?: string;
  /** as the user would write it, for messages */
  label: string;
}

export interface Target {
  endpoint: Endpoint;
  /** which source gave the address / the token: named in error messages */
  addrFrom: string;
  token: string;
  tokenFrom: string;
}

export interface ConnectOpts {
  api?: string;
  token?: string;
  stateDir: string;
}

/** No address or no token could be found; the message lists every source tried. */
export class ResolveError extends CliError {}

/** The address was found but nothing answers there. */
export class UnreachableError extends CliError {}

/** http://host:port, host:port or unix:/path. null if it is none of them. */
export function parseEndpoint(addr: string): Endpoint | null {
  if (addr.startsWith("unix:")) {
    const path = addr.slice(5);
    return path ? { base: "http://localhost", unix: path, label: addr } : null;
  }
  if (/^https?:\/\/[^/]+\/?$/i.test(addr)) return { base: addr.replace(/\/$/, ""), label: addr };
  const m = /^(\[[^\]]+\]|[^/\s]+):(\d{1,5})$/.exec(addr);
  if (!m) return null;
  let host = m[1];
  // A relay listening on the wildcard address is reached on loopback.
  if (host === "0.0.0.0") host = "127.0.0.1";
  else if (host === "::" || host === "[::]") host = "[::1]";
  else if (host.includes(":") && !host.startsWith("[")) host = `[${host}]`;
  return { base: `http://${host}:${m[2]}`, label: addr };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/** The state directory's view: the API address of a running relay, or why there is none. */
function fromStateDir(dir: string): { listen: string } | { why: string } {
  const st = readStatus(dir);
  if (!st) return { why: `${join(dir, "status.json")} not found (no relay runs with --state-dir ${dir})` };
  if (!pidAlive(st.pid)) return { why: `${join(dir, "status.json")} is stale (relay pid ${st.pid} is not running)` };
  if (!st.api) return { why: `the relay in ${dir} runs without the API (--no-api)` };
  return { listen: st.api.listen };
}

export function resolveTarget(o: ConnectOpts, env: Record<string, string | undefined> = process.env): Target {
  const tried: string[] = [];
  let addr: { value: string; from: string } | null = null;
  if (o.api !== undefined) addr = { value: o.api, from: "--api" };
  else if (env.MCRELAY_API) addr = { value: env.MCRELAY_API, from: "MCRELAY_API" };
  else {
    tried.push("--api: not given", "MCRELAY_API: not set");
    const s = fromStateDir(o.stateDir);
    if ("listen" in s) addr = { value: s.listen, from: `${join(o.stateDir, "status.json")}` };
    else tried.push(`--state-dir ${o.stateDir}: ${s.why}`);
  }
  if (!addr) throw new ResolveError(`no API address found; tried:\n  ${tried.join("\n  ")}`);
  const endpoint = parseEndpoint(addr.value);
  if (!endpoint) throw new ResolveError(`${addr.from}: "${addr.value}" is not http://HOST:PORT, HOST:PORT or unix:/PATH`);

  let token: { value: string; from: string } | null = null;
  if (o.token !== undefined) token = { value: o.token, from: "--token" };
  else if (env.MCRELAY_API_TOKEN) token = { value: env.MCRELAY_API_TOKEN, from: "MCRELAY_API_TOKEN" };
  else {
    const file = join(o.stateDir, "api", "api-token");
    try {
      token = { value: readFileSync(file, "utf8").trim(), from: file };
    } catch (e) {
      const why = (e as { code?: string }).code === "ENOENT" ? "not found" : (e as Error).message;
      throw new ResolveError(`no API token found; tried:\n  --token: not given\n  MCRELAY_API_TOKEN: not set\n  ${file}: ${why}`);
    }
  }
  return { endpoint, addrFrom: addr.from, token: token.value, tokenFrom: token.from };
}

/** Bun's messages for these are written for URLs ("Was there a typo in the url or port?"). */
function reason(e: unknown, ep: Endpoint): string {
  const code = (e as { code?: string }).code;
  if (code === "ENOENT" && ep.unix) return `no socket at ${ep.unix}`;
  if (code === "ConnectionRefused" || code === "ECONNREFUSED") return "connection refused (is the relay running?)";
  if ((e as Error).name === "TimeoutError") return "no answer within 60 s";
  return (e as Error).message;
}

export class Client {
  constructor(readonly target: Target) {}

  /** The parsed JSON body (null for 204); ApiError for any other status. */
  async request<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    // A write answers once the data plane has applied it, which may take seconds.
    const res = await this.send(method, path, body, AbortSignal.timeout(60_000));
    const text = await res.text();
    return this.answer<T>(res, text);
  }

  /** A streamed answer (a capture): the response when it is 2xx, else ApiError as request(). */
  async stream(path: string, signal?: AbortSignal): Promise<Response> {
    const res = await this.send("GET", path, undefined, signal);
    if (res.ok) return res;
    return this.answer(res, await res.text());
  }

  private async send(method: string, path: string, body: unknown, signal: AbortSignal | undefined): Promise<Response> {
    const { endpoint, token } = this.target;
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    try {
      return await fetch(endpoint.base + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal,
        ...(endpoint.unix ? { unix: endpoint.unix } : {}),
      } as RequestInit);
    } catch (e) {
      throw new UnreachableError(`cannot reach the API at ${endpoint.label} (address from ${this.target.addrFrom}): ${reason(e, endpoint)}`);
    }
  }

  private answer<T>(res: Response, text: string): T {
    let parsed: any = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: reported below as the status line and text
    }
    if (res.ok) return parsed as T;
    const err = typeof parsed?.error === "string" ? parsed.error : `HTTP ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ""}`;
    const issues: Issue[] = Array.isArray(parsed?.issues) ? parsed.issues : [];
    const hint = res.status === 401 ? `token from ${this.target.tokenFrom}, sent to ${this.target.endpoint.label}` : undefined;
    throw new ApiError(res.status, err, issues, hint);
  }
}
