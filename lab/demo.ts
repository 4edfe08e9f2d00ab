// `bun run mcrelay demo`: a throw-away lab in network namespaces that shows what mcrelay is for.
//
//   src 10.99.1.2 ─ in0 [relay ns, rp_filter=1, no route back to 10.99.1.0/24] out0 ─ rxa
//                                                                            out1 ─ rxb
// The kernel drops the stream as a reverse-path failure; mcrelay reads it from AF_PACKET and fans
// it out to two groups on two links. Two verifying sinks check every packet, and (unless
// --no-compare) socat and kernel multicast routing are measured on the same lab with the same
// stream. Everything it makes (namespaces, processes, state dir, shm segment) is removed at the
// end, on errors and on Ctrl-C/SIGTERM.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { closeFd } from "../c/inet.ts";
import { readStatus } from "../services/protocol/status.ts";
import { openSegment, removeSegment, segmentName, type Segment } from "../shm/segment.ts";
import { collectStats, type Stats } from "../shm/stats.ts";
import { Lab } from "./netns.ts";
import { BUN, ROOT, collect, spawnGen, startSink } from "./procs.ts";
import { compare, type Comparison } from "./demo/compare.ts";
import { MIN_SIZE } from "./payload.ts";
import { linkCounters, netstatCounter } from "./demo/probe.ts";

const USAGE = `usage: bun run mcrelay demo [--seconds N] [--rate PPS] [--size B] [--no-compare] [--keep-going]
  Builds a throw-away lab in network namespaces (root), relays a multicast stream from a source
  the relay cannot route back to, verifies both receivers and removes everything again.
  --seconds N    how long the stream runs (default 5)
  --rate PPS     packets per second (default 5000)
  --size B       UDP payload bytes, ${MIN_SIZE}–1472 (default 1316, seven MPEG-TS packets)
  --no-compare   skip measuring socat and kernel multicast routing on the same lab
  --keep-going   after the verdict keep the lab, relay and stream running (for the API) until Ctrl-C`;

const SRC = "10.99.1.2";
const ROUTABLE_SRC = "192.168.50.2"; // the comparison's control stream
const IN = { group: "239.1.1.1", port: 5000 };
const OUTS = [
  { at: "rxa", via: "out0", group: "239.2.2.2", port: 6000, ttl: 4 },
  { at: "rxb", via: "out1", group: "239.3.3.3", port: 6001, ttl: 6 },
];
const API = "127.0.0.1:8080";

class UsageError extends Error {}

function parse(argv: string[]) {
  const { values: v } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      seconds: { type: "string" }, rate: { type: "string" }, size: { type: "string" },
      "no-compare": { type: "boolean", default: false }, "keep-going": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const int = (name: string, s: string | undefined, def: number, min: number, max: number) => {
    if (s === undefined) return def;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in ${min}..${max}, got "${s}"`);
    return n;
  };
  const o = {
    help: v.help!,
    seconds: int("seconds", v.seconds, 5, 1, 3600),
    rate: int("rate", v.rate, 5000, 1, 1_000_000),
    size: int("size", v.size, 1316, MIN_SIZE, 1472),
    compare: !v["no-compare"],
    keepGoing: v["keep-going"]!,
  };
  // The sinks keep a latency sample per packet.
  if (o.seconds * o.rate > 10_000_000) throw new UsageError(`--seconds × --rate must be at most 10,000,000 packets`);
  return o;
}
type Options = ReturnType<typeof parse>;

const n = (x: number) => x.toLocaleString("en-US");
const us = (x: number) => (x < 1000 ? `${Math.round(x)} µs` : `${(x / 1000).toFixed(x < 10_000 ? 2 : 1)} ms`);
const say = (line = "") => process.stdout.write(line + "\n");

/** One status line, rewritten in place on a terminal; a plain line about once a second otherwise. */
class Progress {
  private timer: Timer | null = null;
  private final: (() => void) | null = null;
  private readonly tty = process.stdout.isTTY === true;

  start(render: () => string): void {
    const t0 = Date.now();
    let shownAt = 0;
    let shown = ""; // counters of the last plain line
    const line = (counters: string) => `  ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s  ${counters}`;
    this.timer = setInterval(() => {
      const counters = render();
      if (this.tty) process.stdout.write(`\r${line(counters)}\x1b[K`);
      else if (Date.now() - shownAt >= 990) {
        shownAt = Date.now();
        shown = counters;
        say(line(counters));
      }
    }, this.tty ? 200 : 100);
    this.final = () => {
      const counters = render();
      if (this.tty) process.stdout.write(`\r${line(counters)}\x1b[K\n`);
      else if (counters !== shown) say(line(counters));
    };
  }

  /** final: show the last state (else just end the line). */
  stop(final = true): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const f = this.final;
    this.final = null;
    if (f && final) f();
    else if (f && this.tty) process.stdout.write("\n");
  }
}

interface Run {
  lab: Lab | null;
  tmp: string;
  relay: Bun.Subprocess | null;
  relayLogs: () => string;
  seg: Segment | null;
  progress: Progress;
  /** exit code a signal leads to: 130/143 while the demo runs, the verdict's once it is known */
  signalCode: number | null;
  cleaned: boolean;
}

/** Everything the demo made goes, synchronously (also from a signal handler). */
function cleanupSync(r: Run): string[] {
  if (r.cleaned) return [];
  r.cleaned = true;
  r.progress.stop(false);
  const notes: string[] = [];
  const shm = segmentName(r.tmp);
  // The relay gets SIGTERM first (it removes its segment); destroy() kills everything else by pid.
  r.lab?.destroy();
  if (r.seg) closeFd(r.seg.fd);
  if (existsSync(`/dev/shm/${shm}`)) {
    removeSegment(shm);
    notes.push(`the relay left /dev/shm/${shm} behind: removed it`);
  }
  rmSync(r.tmp, { recursive: true, force: true });
  if (r.lab) {
    const left = Bun.spawnSync(["ip", "netns", "list"]).stdout.toString().split("\n").filter((l) => l.startsWith(`mcr${r.lab!.id}-`));
    if (left.length) notes.push(`namespaces still there: ${left.join(", ")}`);
  }
  return notes;
}

async function stopRelay(r: Run): Promise<number | null> {
  const p = r.relay;
  if (!p || p.exitCode !== null) return p?.exitCode ?? null;
  p.kill("SIGTERM");
  return await Promise.race([p.exited, Bun.sleep(10_000).then(() => null)]);
}

async function until(ok: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(25);
  }
  return true;
}

function ruleStats(r: Run): Stats | null {
  const st = r.seg && readStatus(r.tmp);
  return st && r.seg ? collectStats(r.seg, st.rules) : null;
}

/** Probes the API from inside the relay namespace (it listens on that namespace's loopback). */
async function probeApi(lab: Lab, ns: string): Promise<{ healthz: number; root: number }> {
  const script = `let h=0,r=0;for(let i=0;i<50&&h!==200;i++){try{h=(await fetch("http://${API}/healthz")).status}catch{}if(h!==200)await Bun.sleep(100)}
try{r=(await fetch("http://${API}/")).status}catch{}console.log(JSON.stringify({healthz:h,root:r}))`;
  const p = lab.spawn(ns, [BUN, "-e", script], { cwd: ROOT });
  const out = collect(p.stdout);
  await Promise.race([p.exited, Bun.sleep(8000)]);
  await Promise.race([out.done, Bun.sleep(100)]);
  try {
    return JSON.parse(out.text());
  } catch {
    return { healthz: 0, root: 0 };
  }
}

async function demo(o: Options, r: Run): Promise<number> {
  const lab = (r.lab = Lab.create("d"));
  const ns = (x: string) => `mcr${lab.id}-${x}`;
  say(`mcrelay demo: a throw-away lab in network namespaces ${ns("{src,rly,rxa,rxb}")}`);
  const src = lab.ns("src");
  const rly = lab.ns("rly");
  const rxa = lab.ns("rxa");
  const rxb = lab.ns("rxb");
  lab.veth({ ns: src, ifname: "eth0", addr: `${SRC}/24` }, { ns: rly, ifname: "in0", addr: "192.168.50.1/24" });
  lab.veth({ ns: rly, ifname: "out0", addr: "10.77.0.1/24" }, { ns: rxa, ifname: "eth0", addr: "10.77.0.2/24" });
  lab.veth({ ns: rly, ifname: "out1", addr: "10.78.0.1/24" }, { ns: rxb, ifname: "eth0", addr: "10.78.0.2/24" });
  lab.sh(src, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
  if (o.compare) lab.sh(src, ["ip", "addr", "add", `${ROUTABLE_SRC}/24`, "dev", "eth0"]);
  for (const k of ["all", "default", "in0"]) lab.sysctl(rly, `net.ipv4.conf.${k}.rp_filter`, "1");
  for (const x of [rxa, rxb]) lab.sysctl(x, "net.core.rmem_max", String(8 << 20)); // the sinks ask for 8 MiB
  if (lab.sh(rly, ["ip", "route", "get", SRC]).code === 0) throw new Error(`the relay namespace can route to ${SRC}: the lab is not what it should be`);
  // An idle process per namespace: /proc/<pid>/net/* are that namespace's counters.
  const anchor = (x: string) => lab.spawn(x, ["sleep", "infinity"]).pid;
  const A = { src: anchor(src), rly: anchor(rly), rxa: anchor(rxa), rxb: anchor(rxb) };

  say();
  const head = `  src ${SRC} ──▶ in0 [relay: 192.168.50.1, rp_filter=1] `;
  const to = (i: number) => `${OUTS[i].via} ──▶ ${OUTS[i].at}  ${OUTS[i].group}:${OUTS[i].port} ttl ${OUTS[i].ttl}`;
  say(head + to(0));
  say(`  ${IN.group}:${IN.port}`.padEnd(head.length) + to(1));
  say(`  The relay namespace has no route back to ${SRC} (checked: \`ip route get ${SRC}\` fails there), so its`);
  say(`  kernel drops the stream as a reverse-path failure; mcrelay reads the frames with AF_PACKET.`);
  say();

  // The relay, exactly as `bun run mcrelay start` runs it, with its own state dir and one rule.
  const cfg = join(r.tmp, "rules.json");
  writeFileSync(cfg, JSON.stringify({ rules: [{ name: "demo-fanout", input: { interface: "in0", ...IN },
    outputs: OUTS.map((x) => ({ interface: x.via, group: x.group, port: x.port, ttl: x.ttl })) }] }, null, 2));
  const relay = (r.relay = lab.spawn(rly, [BUN, "bin/mcrelay.ts", "start", "--config", cfg, "--state-dir", r.tmp,
    "--workers", "1", "--api-listen", API], { cwd: ROOT }));
  const rout = collect(relay.stdout);
  const rerr = collect(relay.stderr);
  r.relayLogs = () => rout.text() + rerr.text();
  const ready = await until(() => {
    const st = readStatus(r.tmp);
    return relay.exitCode !== null || (st?.state === "ready" && st.rules.length > 0 && st.rules.every((x) => x.state === "active"));
  }, 20_000);
  if (!ready || relay.exitCode !== null) {
    throw new Error(`the relay did not become ready (${relay.exitCode === null ? "20 s" : `exit ${relay.exitCode}`}); its last log lines:\n` +
      r.relayLogs().trim().split("\n").slice(-8).join("\n"));
  }
  const status = readStatus(r.tmp)!;
  r.seg = openSegment(status.shm);
  say(`relay ready in ${rly} (pid ${relay.pid}, 1 worker pair, shm ${status.shm}, state ${r.tmp})`);
  const api = await probeApi(lab, rly);
  const tokenFile = join(r.tmp, "api", "api-token");
  const token = existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : null;
  if (api.healthz === 200 && token) {
    say(`  ${api.root === 200 ? "dashboard" : "API"}: inside namespace ${rly}: http://${API}/ (token ${token})` +
      (api.root === 200 ? "" : ` — /docs, /api/v1/stats`));
    say(o.keepGoing
      ? `  e.g. ip netns exec ${rly} curl -s -H 'authorization: Bearer ${token}' http://${API}/api/v1/stats`
      : `  (it lasts as long as the demo; --keep-going keeps the lab up until Ctrl-C)`);
  } else say(`  API: not answering inside ${rly} (healthz ${api.healthz || "unreachable"}); the data plane does not need it`);

  // The stream, the two verifying sinks, live counters.
  const count = o.seconds * o.rate;
  const rpBefore = netstatCounter(A.rly, "TcpExt", "IPReversePathFilter");
  const in0DroppedBefore = linkCounters(A.rly).in0?.rxDropped ?? 0;
  const sinks = OUTS.map((x) => startSink(lab, x.at === "rxa" ? rxa : rxb, ["--group", x.group, "--port", String(x.port),
    "--interface", "eth0", "--expect", String(count), "--timeout", String(o.seconds * 1000 + 15_000), "--idle", "2000"]));
  await Promise.all(sinks.map((s) => s.ready));
  say(`sending ${n(count)} × ${o.size} B to ${IN.group}:${IN.port} from ${SRC} at ${n(o.rate)} pps for ${o.seconds} s`);
  say(`  (live: packets the source sent │ relay rx/tx from its shared memory │ packets arriving at each receiver)`);
  const live = () => {
    const base = { src: linkCounters(A.src).eth0?.txPackets ?? 0, rxa: linkCounters(A.rxa).eth0?.rxPackets ?? 0, rxb: linkCounters(A.rxb).eth0?.rxPackets ?? 0 };
    const s0 = ruleStats(r)?.rules[0];
    return () => {
      const s = ruleStats(r)?.rules[0];
      const sent = (linkCounters(A.src).eth0?.txPackets ?? base.src) - base.src;
      const a = (linkCounters(A.rxa).eth0?.rxPackets ?? base.rxa) - base.rxa;
      const b = (linkCounters(A.rxb).eth0?.rxPackets ?? base.rxb) - base.rxb;
      return `sent ${n(sent)} │ relay rx ${n((s?.rxPackets ?? 0) - (s0?.rxPackets ?? 0))} tx ${n((s?.txPackets ?? 0) - (s0?.txPackets ?? 0))} │ rxa ${n(a)} │ rxb ${n(b)}`;
    };
  };
  r.progress.start(live());
  const gen = spawnGen(lab, src, ["--group", IN.group, "--port", String(IN.port), "--source", SRC, "--rate", String(o.rate),
    "--size", String(o.size), "--count", String(count)]);
  const sent = (await gen.done).sent as number;
  const got = await Promise.all(sinks.map((s) => s.result));
  // Egress completions are counted on the worker's next turn.
  await until(() => (ruleStats(r)?.rules[0].txPackets ?? 0) >= 2 * sent, 2000);
  r.progress.stop();
  const rpDrops = (netstatCounter(A.rly, "TcpExt", "IPReversePathFilter") ?? NaN) - (rpBefore ?? NaN);
  const st = ruleStats(r)?.rules[0];

  say();
  say(`verdict: mcrelay, ${n(sent)} packets sent`);
  let ok = sent === count;
  OUTS.forEach((x, i) => {
    const g = got[i];
    const pass = g.unique === sent && g.duplicates === 0 && g.corrupted === 0 && g.missing === 0;
    ok &&= pass;
    const what = `${x.at}  ${x.group}:${x.port} via ${x.via}  ${n(g.unique)} of ${n(sent)}`;
    say(pass
      ? `  ✓ ${what} exactly once, byte-exact${g.outOfOrder ? "" : ", in order"} · latency p50 ${us(g.latencyUs.p50)}, p99 ${us(g.latencyUs.p99)}`
      : `  ✗ ${what}: missing ${n(g.missing)}, duplicates ${n(g.duplicates)}, corrupted ${n(g.corrupted)}`);
  });
  if (st) {
    const d = Object.values(st.drops).reduce((a, n) => a + n, 0);
    say(`  relay counters: rx ${n(st.rxPackets)}, tx ${n(st.txPackets)}, rule drops ${n(d)}` +
      (Number.isFinite(rpDrops) ? ` · its kernel's reverse-path filter dropped ${n(rpDrops)} (IPReversePathFilter)` : ""));
  }
  const all = ruleStats(r);
  const drops = all ? Object.entries(all.drops).filter(([k, v]) => v > 0 && k !== "outgoing") : [];
  if (!ok && drops.length) {
    say(`  relay drops by reason: ${drops.map(([k, v]) => `${k} ${n(v)}`).join(", ")}` +
      (drops.some(([k]) => k === "kernel_ring_full") ? " (its packet ring overflowed: ingress fell behind; is the host busy?)" : ""));
  }
  const in0Dropped = (linkCounters(A.rly).in0?.rxDropped ?? 0) - in0DroppedBefore;
  if (in0Dropped > 0) say(`  the relay namespace's in0 dropped ${n(in0Dropped)} frames on arrival (a veth backlog overflow: the host is busy)`);
  const code = ok ? 0 : 1;

  if (o.compare) {
    say();
    const cmpCount = Math.min(count, o.rate); // about one second of the same stream
    say(`socat and kernel multicast routing on the same lab, same stream (measured now: ${n(cmpCount)} packets from ${SRC} at ${n(o.rate)} pps) …`);
    const c = await compare({ lab, src, rly, rxa, rxb, rlyAnchor: A.rly, input: IN, source: SRC, out0Addr: "10.77.0.1",
      routableSource: ROUTABLE_SRC, tmp: r.tmp }, { count: cmpCount, rate: o.rate, size: o.size }, (l) => say(l));
    printComparison(c);
  }

  say();
  say(ok ? `PASS: mcrelay delivered every packet exactly once, byte-exact, to both receivers.`
    : `FAIL: mcrelay did not deliver every packet exactly once to both receivers.`);

  if (o.keepGoing) {
    r.signalCode = code;
    say();
    say(`--keep-going: the lab and relay stay up and the stream runs on at ${n(o.rate)} pps; Ctrl-C stops and cleans up.`);
    r.progress.start(live());
    spawnGen(lab, src, ["--group", IN.group, "--port", String(IN.port), "--source", SRC, "--rate", String(o.rate), "--size", String(o.size)]);
    await new Promise(() => {}); // until a signal
  }
  return code;
}

function printComparison(c: Comparison): void {
  const ran = c.results.filter((t) => !t.skipped);
  const width = Math.max(0, ...ran.map((t) => t.delivered.map((d) => `${d.at} ${n(d.unique)}`).join(", ").length)) + ` of ${n(c.sent)}`.length;
  for (const t of c.results) {
    const label = t.tool.padEnd(7);
    if (t.skipped) say(`  – ${label}skipped: ${t.skipped}`);
    else {
      const got = `${t.delivered.map((d) => `${d.at} ${n(d.unique)}`).join(", ")} of ${n(c.sent)}`;
      say(`  ${t.delivered.every((d) => d.unique === c.sent) ? "✓" : "✗"} ${label}${got.padEnd(width)}   ${t.how}`);
    }
  }
  if (!ran.length) return;
  say(`    control, ${n(c.controlSent)} packets from ${ROUTABLE_SRC} (routable from the relay): ` +
    ran.map((t) => `${t.tool} ${t.control.map((d) => `${d.at} ${n(d.unique)}`).join(", ")}`).join(" · "));
  if (c.rpDrops !== null) say(`    the relay namespace's reverse-path filter dropped ${n(c.rpDrops)} of the ${n(c.sent)} before any socket or route saw them`);
  say(`    (mcrelay kept running meanwhile; its outputs are other groups)`);
}

export async function main(argv: string[]): Promise<number> {
  let o: Options;
  try {
    o = parse(argv);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`demo: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (o.help) {
    say(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    console.error("demo: needs root (it builds network namespaces and veth links): run it as root or with sudo");
    return 2;
  }
  const r: Run = {
    lab: null, tmp: mkdtempSync(join(tmpdir(), "mcrelay-demo-")), relay: null, relayLogs: () => "", seg: null,
    progress: new Progress(), signalCode: null, cleaned: false,
  };
  // Registered before the lab's own handlers, so this one runs first and reports what it did.
  const onSignal = (sig: NodeJS.Signals) => {
    const code = r.signalCode ?? (sig === "SIGINT" ? 130 : sig === "SIGHUP" ? 129 : 143);
    r.progress.stop(false);
    say(r.signalCode !== null ? "stopping: cleaning up …" : `\ninterrupted (${sig}): cleaning up …`);
    const notes = cleanupSync(r);
    for (const l of notes) say(`  ${l}`);
    say(`cleaned up: namespaces, processes, state dir, shm segment`);
    process.exit(code);
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const s of signals) process.on(s, onSignal);
  let code = 1;
  try {
    code = await demo(o, r);
  } catch (e) {
    r.progress.stop(false);
    console.error(`demo: ${(e as Error).message}`);
    code = 1;
  } finally {
    const stopped = await stopRelay(r);
    if (r.relay && stopped !== 0 && stopped !== null) say(`  (the relay exited with ${stopped})`);
    const notes = cleanupSync(r);
    for (const l of notes) say(`  ${l}`);
    if (r.lab) say(`cleaned up: namespaces mcr${r.lab.id}-*, every process started, the state dir, the shm segment`);
    for (const s of signals) process.off(s, onSignal);
  }
  return code;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
