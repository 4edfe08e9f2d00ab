// `top`: the dashboard in a terminal. Rules with rates and drops, workers, interfaces, redrawn
// every second from the API's event stream (/api/v1/events); with no API to ask, from the
// relay's shared memory and status.json (--state-dir), as `stats` does.
import type { DashboardEvent } from "../services/protocol/events.ts";
import { RateSampler } from "../shm/rates.ts";
import { readStatus } from "../services/protocol/status.ts";
import { openSegment } from "../shm/segment.ts";
import { collectStats } from "../shm/stats.ts";
import { statsBody } from "../services/protocol/stats.ts";
import { ResolveError, UnreachableError, resolveTarget, type Target } from "./client.ts";
import { ApiError, CliError, UsageError } from "./errors.ts";
import { table } from "./format.ts";
import { connectOpts, parse } from "./options.ts";

export const TOP_USAGE = `usage: mcrelay top [--once] [--json]
  Rules (rx/tx packets and bits per second, drops), workers and interfaces, refreshed every second
  (the screen is redrawn when stdout is a terminal; Ctrl-C ends it). --once prints one frame and
  exits. Without a reachable API, read from the shared memory of the relay running with --state-dir DIR.`;

const nf = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const int = (n: number | undefined) => nf.format(Math.round(n ?? 0));
const sum = (o: Record<string, number> | undefined) => Object.values(o ?? {}).reduce((a, n) => a + n, 0);
const nonZero = (o: Record<string, number> | undefined) => Object.entries(o ?? {}).filter(([, n]) => n > 0);

export function bits(n: number): string {
  const u = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) (n /= 1000), i++;
  return `${i === 0 ? Math.round(n) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${u[i]}`;
}

const pct = (v: unknown) => (typeof v === "number" ? `${(v <= 1 ? v * 100 : v).toFixed(0)}%` : "—");

/** One screen of text. prev: the frame before, for drop rates. */
export function renderFrame(ev: DashboardEvent, o: { source: string; prev?: DashboardEvent | null } = { source: "" }): string {
  const st = ev.status;
  const time = new Date(ev.time).toLocaleTimeString("en-GB");
  const head = [`mcrelay top · ${st ? `${st.state} · supervisor pid ${st.pid}` : "supervisor not answering"}`,
    `${ev.workers.length} worker pair${ev.workers.length === 1 ? "" : "s"}`, time, o.source].filter(Boolean).join(" · ");
  const tot = ev.rules.reduce((a, r) => ({ rx: a.rx + r.rxPps, tx: a.tx + r.txPps, rxb: a.rxb + r.rxBps, txb: a.txb + r.txBps }), { rx: 0, tx: 0, rxb: 0, txb: 0 });
  const total = `total  rx ${int(tot.rx)} pps ${bits(tot.rxb)}  ·  tx ${int(tot.tx)} pps ${bits(tot.txb)}  ·  drops ${int(sum(ev.drops))}`;

  const rules = ev.rules.length
    ? table(["RULE", "STATE", "RX PPS", "TX PPS", "RX BIT/S", "TX BIT/S", "RX PKTS", "TX PKTS", "DROPS"],
      ev.rules.map((r) => [r.name ?? r.id, r.state, int(r.rxPps), int(r.txPps), bits(r.rxBps), bits(r.txBps), int(r.rxPackets), int(r.txPackets), int(sum(r.drops))]),
      ["l", "l", "r", "r", "r", "r", "r", "r", "r"])
    : ev.dataPlane ? "no rules" : "no data plane yet";
  const reasons = ev.rules.filter((r) => r.reason).map((r) => `  ${r.name ?? r.id}: ${r.reason}`);

  const dt = o.prev ? (Date.parse(ev.time) - Date.parse(o.prev.time)) / 1000 : 0;
  const perSec = (now: number, before: number | undefined) => (dt > 0 && before !== undefined && now > before ? ` (+${int((now - before) / dt)}/s)` : "");
  const list = (d: Record<string, number>, prev?: Record<string, number>) => nonZero(d).map(([k, n]) => `${k} ${int(n)}${perSec(n, prev?.[k])}`).join(", ");
  const drops = [
    ...ev.rules.filter((r) => sum(r.drops) > 0).map((r) => `  ${r.name ?? r.id}: ${list(r.drops, o.prev?.rules.find((x) => x.id === r.id)?.drops)}`),
    ...(nonZero(ev.drops).length ? [`  all workers: ${list(ev.drops, o.prev?.drops)}`] : []),
  ];

  // Loop utilisation (0–1): ingressUtilisation/egressUtilisation from the API's rates.
  const utilOf = (w: DashboardEvent["workers"][number], role: "ingress" | "egress"): unknown =>
    (w as unknown as Record<string, unknown>)[`${role}Utilisation`];
  const util = ev.workers.some((w) => typeof utilOf(w, "ingress") === "number" || typeof utilOf(w, "egress") === "number");
  const proc = (role: string, index: number) => st?.workers.find((w) => w.role === role && w.index === index);
  const workers = ev.workers.length
    ? table(["WORKER", "PID IN", "PID OUT", "RESTARTS", "RX PPS", "TX PPS", ...(util ? ["LOOP IN", "LOOP OUT"] : []), "FREE SLOTS", "IN FLIGHT", "KERNEL DROPS", "SEND ERR"],
      ev.workers.map((w) => {
        const i = proc("ingress", w.index), e = proc("egress", w.index);
        return [w.index, i?.pid ?? "—", e?.pid ?? "—", (i?.restarts ?? 0) + (e?.restarts ?? 0), int(w.rxPps), int(w.txPps),
          ...(util ? [pct(utilOf(w, "ingress")), pct(utilOf(w, "egress"))] : []),
          int(w.ingress.freeSlots), int(w.egress.inflight), int(w.ingress.drop_kernel_ring_full), int(w.egress.drop_send_error)];
      }),
      ["l", "r", "r", "r", "r", "r", ...(util ? ["r", "r"] as const : []), "r", "r", "r", "r"])
    : "";

  const ifs = ev.interfaces
    ? ev.interfaces.map((i) => `${i.name} ${i.state}${i.addresses.length ? ` ${i.addresses.join(",")}` : ""}${i.waiting.length ? ` (waiting: ${i.waiting.join(", ")})` : ""}`).join("  ·  ")
    : "";
  return [head, total, "", rules, ...(reasons.length ? ["", "waiting/down:", ...reasons] : []), ...(drops.length ? ["", "drops:", ...drops] : []),
    ...(workers ? ["", workers] : []), ...(ifs ? ["", `interfaces: ${ifs}`] : [])].join("\n");
}

/** Server-Sent Events from the API: yields each `stats` event until the stream ends or stop fires. */
async function* apiEvents(t: Target, stop: AbortSignal): AsyncGenerator<DashboardEvent> {
  const ep = t.endpoint;
  let res: Response;
  try {
    res = await fetch(ep.base + "/api/v1/events", {
      headers: { authorization: `Bearer ${t.token}`, accept: "text/event-stream" }, signal: stop,
      ...(ep.unix ? { unix: ep.unix } : {}),
    } as RequestInit);
  } catch (e) {
    if (stop.aborted) return;
    throw new UnreachableError(`cannot reach the API at ${ep.label} (address from ${t.addrFrom}): ${(e as Error).message}`);
  }
  if (!res.ok || !res.body) {
    const text = await res.text().catch(() => "");
    let msg = `HTTP ${res.status} ${res.statusText}`;
    try {
      msg = JSON.parse(text).error ?? msg;
    } catch {}
    if (res.status === 404) msg = "this relay's API has no /api/v1/events (an older version?); `mcrelay stats` works with it";
    throw new ApiError(res.status, msg, [], res.status === 401 ? `token from ${t.tokenFrom}, sent to ${ep.label}` : undefined);
  }
  const dec = new TextDecoder();
  let buf = "";
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += dec.decode(chunk, { stream: true }).replace(/\r\n?/g, "\n");
      for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (event === "stats" && data.length) yield JSON.parse(data.join("\n")) as DashboardEvent;
      }
    }
  } catch (e) {
    if (!stop.aborted) throw new UnreachableError(`the event stream from ${ep.label} broke: ${(e as Error).message}`);
  }
}

/** The same events made locally: counters from shared memory, workers and rules from status.json. */
async function* shmEvents(stateDir: string, stop: AbortSignal): AsyncGenerator<DashboardEvent> {
  let st = readStatus(stateDir);
  if (!st) throw new CliError(`no relay runs with --state-dir ${stateDir} (no status.json)`);
  let seg = openSegment(st.shm);
  const sampler = new RateSampler(() => seg, () => st?.rules ?? []);
  sampler.sample();
  while (!stop.aborted) {
    await sleep(1000, stop);
    if (stop.aborted) return;
    const next = readStatus(stateDir);
    if (!next) throw new CliError(`the relay with --state-dir ${stateDir} is gone (no status.json)`);
    if (next.shm !== st.shm) seg = openSegment(next.shm);
    st = next;
    sampler.sample();
    const body = statsBody(collectStats(seg, st.rules, st.links ?? []), sampler.rates);
    const meta = new Map(st.rules.map((x) => [x.id, x]));
    yield {
      ...body, time: new Date().toISOString(), dataPlane: true, status: st, interfaces: null,
      rules: body.rules.map((x) => ({ ...x, ...(meta.get(x.id)?.reason ? { reason: meta.get(x.id)!.reason } : {}) })),
    };
  }
}

const sleep = (ms: number, stop: AbortSignal) =>
  new Promise<void>((res) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      stop.removeEventListener("abort", done);
      res();
    }
    stop.addEventListener("abort", done);
  });

const write = (s: string) => Bun.write(Bun.stdout, s);

export async function top(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, { once: { type: "boolean", default: false } });
  if (positionals.length) throw new UsageError(`top takes no arguments, got "${positionals[0]}"`);
  const o = connectOpts(v);
  const tty = !v.once && !v.json && !!process.stdout.isTTY;

  const ac = new AbortController();
  const onSignal = () => ac.abort();
  const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const sig of SIGNALS) process.on(sig, onSignal);
  const restore = () => tty && process.stdout.write("\x1b[?25h");
  try {
    let target: Target | null = null;
    let why = "";
    try {
      target = resolveTarget(o);
    } catch (e) {
      if (!(e instanceof ResolveError)) throw e;
      why = e.message;
    }
    let prev: DashboardEvent | null = null;
    let frames = 0;
    const show = async (ev: DashboardEvent, source: string) => {
      if (v.json) await write(JSON.stringify(ev) + "\n");
      else if (tty) {
        const cols = process.stdout.columns || 200;
        const text = renderFrame(ev, { source, prev }).split("\n").map((l) => ([...l].length > cols ? [...l].slice(0, cols - 1).join("") + "…" : l)).join("\n");
        await write(`\x1b[H\x1b[2J\x1b[?25l${text}\n`);
      } else await write((frames ? "\n" : "") + renderFrame(ev, { source, prev }) + "\n");
      prev = ev;
      frames++;
    };

    // From the API while it answers; a relay without one (or unreachable from the start) is read locally.
    let useShm = !target;
    while (!useShm && target && !ac.signal.aborted) {
      try {
        for await (const ev of apiEvents(target, ac.signal)) {
          await show(ev, `API ${target.endpoint.label}`);
          if (v.once) return 0;
        }
        if (ac.signal.aborted) return 0;
        throw new UnreachableError(`the API at ${target.endpoint.label} closed the event stream`);
      } catch (e) {
        if (!(e instanceof UnreachableError)) throw e;
        if (frames === 0) {
          why = e.message;
          useShm = true;
          break;
        }
        // It answered before: a restarting API. Say so and try again.
        if (v.once) throw e;
        if (tty) await write(`\x1b[H\x1b[2J${e.message}; retrying…\n`);
        else console.error(`${e.message}; retrying…`);
        await sleep(2000, ac.signal);
      }
    }
    if (useShm && !ac.signal.aborted) {
      try {
        for await (const ev of shmEvents(o.stateDir, ac.signal)) {
          await show(ev, "read from shared memory");
          if (v.once) return 0;
        }
      } catch (e) {
        const indent = (t: string) => t.split("\n").join("\n  ");
        throw new CliError(`no counters from the API nor from shared memory:\n  API: ${indent(why)}\n  shared memory: ${(e as Error).message}`);
      }
    }
    return 0;
  } finally {
    for (const sig of SIGNALS) process.off(sig, onSignal);
    restore();
  }
}
