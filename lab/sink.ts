// Traffic sink: joins a group, verifies lab/payload.ts payloads and reports loss, duplicates,
// reordering, corruption and one-way latency (sender and sink share CLOCK_MONOTONIC on one host).
import dgram from "node:dgram";
import { isIP } from "node:net";
import { parseArgs } from "node:util";
import { monotonicNs } from "../c/sys.ts";
import { ifaceAddr, isMulticast, UsageError } from "./gen.ts";
import { checkPayload } from "./payload.ts";

const USAGE = `usage: sink --group G --port P [--interface IF] [--expect N] [--flows K] [--timeout MS]
            [--idle MS] [--record-seqs] [--record-times] [--json]
  G may be IPv4 or IPv6 (multicast, or this host's unicast address).
  --record-seqs: the report lists flow 0's sequence numbers as they arrived (seqs);
  --record-times: and [seq, sent, received] of each (times; CLOCK_MONOTONIC ns, one host).`;

const LINGER_MS = 300; // after --expect is met, to still catch late duplicates
const CHUNK_BITS = 1 << 16;

function int(name: string, v: string | undefined, def: number, min: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}

/** Seen-set of sequence numbers in 64 Ki chunks, so a stray huge seq cannot allocate gigabytes. */
class SeqSet {
  private chunks = new Map<number, Uint8Array>();
  /** Marks seq; returns false if it was already there. */
  add(seq: number): boolean {
    const key = Math.floor(seq / CHUNK_BITS);
    let c = this.chunks.get(key);
    if (!c) this.chunks.set(key, (c = new Uint8Array(CHUNK_BITS / 8)));
    const bit = seq % CHUNK_BITS;
    const mask = 1 << (bit & 7);
    if (c[bit >> 3] & mask) return false;
    c[bit >> 3] |= mask;
    return true;
  }
}

class Flow {
  received = 0;
  unique = 0;
  duplicates = 0;
  outOfOrder = 0;
  corrupted = 0;
  maxSeq = -1;
  seen = new SeqSet();
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function parse(argv: string[]) {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      group: { type: "string" },
      port: { type: "string" },
      interface: { type: "string" },
      expect: { type: "string" },
      flows: { type: "string" },
      timeout: { type: "string" },
      idle: { type: "string" },
      "record-seqs": { type: "boolean", default: false },
      "record-times": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (v.help) return null;
  const family = v.group ? isIP(v.group) : 0;
  if (family !== 4 && family !== 6) throw new UsageError("--group must be an IPv4 or IPv6 address");
  if (v.port === undefined) throw new UsageError("--port is required");
  const port = int("port", v.port, 0, 1);
  if (port > 65535) throw new UsageError("--port must be at most 65535");
  return {
    group: v.group!,
    family,
    port,
    // IPv4 names the interface by its address, IPv6 by its name (the zone)
    iface: v.interface ? (family === 6 ? `::%${v.interface}` : ifaceAddr(v.interface)) : undefined,
    expect: v.expect === undefined ? undefined : int("expect", v.expect, 0, 0),
    flows: v.flows === undefined ? undefined : int("flows", v.flows, 1, 1),
    timeoutMs: int("timeout", v.timeout, 30000, 1),
    idleMs: int("idle", v.idle, 2000, 1),
    recordSeqs: v["record-seqs"],
    recordTimes: v["record-times"],
    json: v.json,
  };
}

export async function main(argv: string[]): Promise<number> {
  let o: ReturnType<typeof parse>;
  try {
    o = parse(argv);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`sink: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (!o) {
    console.log(USAGE);
    return 0;
  }
  const opts = o;

  const flows = new Map<number, Flow>();
  let received = 0;
  let badMagic = 0;
  let uniqueTotal = 0;
  let lat = new Float64Array(Math.max(1024, opts.expect ?? 0));
  let nLat = 0;
  const seqs: number[] = [];
  const times: [number, number, number][] = [];
  let lastAt = 0;
  let doneAt = 0; // when --expect unique packets had arrived

  /** who sent, "addr:port" (a relay output should be one sender however many workers it runs) */
  const senders = new Set<string>();
  const onMessage = (msg: Buffer, from: dgram.RemoteInfo) => {
    const now = monotonicNs();
    received++;
    if (senders.size < 64) senders.add(`${from.address}:${from.port}`);
    lastAt = Date.now();
    const p = checkPayload(msg, msg.length);
    if (p.flow < 0) {
      badMagic++;
      return;
    }
    let f = flows.get(p.flow);
    if (!f) flows.set(p.flow, (f = new Flow()));
    f.received++;
    // A damaged packet still arrived: its seq counts as seen (not missing), and as corrupted.
    if (!p.ok) f.corrupted++;
    if (!f.seen.add(p.seq)) {
      f.duplicates++;
      return;
    }
    f.unique++;
    uniqueTotal++;
    if (p.seq < f.maxSeq) f.outOfOrder++;
    else f.maxSeq = p.seq;
    if (opts.recordSeqs && p.flow === 0) seqs.push(p.seq);
    if (opts.recordTimes && p.flow === 0) times.push([p.seq, p.tNs, now]);
    if (p.ok) {
      if (nLat === lat.length) {
        const bigger = new Float64Array(lat.length * 2);
        bigger.set(lat);
        lat = bigger;
      }
      lat[nLat++] = (now - p.tNs) / 1000;
    }
    if (opts.expect !== undefined && uniqueTotal >= opts.expect && !doneAt) doneAt = Date.now();
  };

  const sock = dgram.createSocket({ type: opts.family === 6 ? "udp6" : "udp4", reuseAddr: true, recvBufferSize: 8 << 20 });
  sock.on("message", onMessage);
  const mcast = isMulticast(opts.group);
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once("error", reject);
      // Binding the group address itself keeps other groups on the same port out.
      sock.bind(opts.port, opts.group, () => {
        sock.off("error", reject);
        resolve();
      });
    });
    if (mcast) sock.addMembership(opts.group, opts.iface);
  } catch (e) {
    console.error(`sink: cannot receive ${opts.group}:${opts.port}: ${(e as Error).message}`);
    sock.close();
    return 1;
  }
  console.error("ready");

  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const started = Date.now();
  while (!stop) {
    await Bun.sleep(20);
    const now = Date.now();
    if (now - started >= opts.timeoutMs) break;
    if (lastAt && now - lastAt >= opts.idleMs) break;
    if (doneAt && now - doneAt >= LINGER_MS) break;
  }
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  sock.close();

  // Flows that never sent anything still owe their share of --expect (round-robin in gen).
  const nFlows = opts.flows ?? Math.max(1, flows.size);
  if (opts.expect !== undefined) for (let i = 0; i < nFlows; i++) if (!flows.has(i)) flows.set(i, new Flow());
  let duplicates = 0;
  let missing = 0;
  let outOfOrder = 0;
  let corrupted = badMagic;
  const perFlow: Record<string, object> = {};
  for (const [id, f] of [...flows].sort((a, b) => a[0] - b[0])) {
    const owed = opts.expect !== undefined && id < nFlows ? Math.ceil((opts.expect - id) / nFlows) : 0;
    const m = Math.max(f.maxSeq + 1, owed) - f.unique;
    duplicates += f.duplicates;
    missing += m;
    outOfOrder += f.outOfOrder;
    corrupted += f.corrupted;
    perFlow[id] = {
      received: f.received, unique: f.unique, duplicates: f.duplicates, missing: m,
      outOfOrder: f.outOfOrder, corrupted: f.corrupted, maxSeq: f.maxSeq,
    };
  }
  const sorted = lat.subarray(0, nLat).sort();
  const round = (x: number) => Math.round(x * 10) / 10;
  const report: Record<string, unknown> = {
    received, unique: uniqueTotal, duplicates, missing, outOfOrder, corrupted,
    latencyUs: {
      p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)),
      p999: round(percentile(sorted, 0.999)), max: round(nLat ? sorted[nLat - 1] : 0),
    },
    flows: perFlow,
    senders: [...senders],
  };
  if (opts.recordSeqs) report.seqs = seqs;
  if (opts.recordTimes) report.times = times;

  if (opts.json) console.log(JSON.stringify(report));
  else {
    const l = report.latencyUs as Record<string, number>;
    console.log(
      `sink: received ${received} unique ${uniqueTotal} dup ${duplicates} missing ${missing} ` +
        `reordered ${outOfOrder} corrupted ${corrupted}; latency us p50 ${l.p50} p99 ${l.p99} p999 ${l.p999} max ${l.max}`,
    );
  }
  const failed = opts.expect !== undefined && (uniqueTotal !== opts.expect || duplicates > 0 || corrupted > 0);
  return failed ? 1 : 0;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
