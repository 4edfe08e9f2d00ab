// Traffic generator: paced UDP (multicast or unicast, IPv4 or IPv6) carrying lab/payload.ts payloads.
//
// Bun.udpSocket rather than node:dgram: Bun's dgram defers every send to a later tick and
// keeps a reference to the caller's buffer, so reusing one buffer (the only way to avoid
// allocating per packet) sends the last written content N times. Bun.udpSocket sends
// synchronously, which also makes the embedded send time honest.
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
import { parseArgs } from "node:util";
import { monotonicNs } from "../c/sys.ts";
import { MIN_SIZE, PayloadWriter, RTP_HEADER_SIZE, writeRtp } from "./payload.ts";
import { seeded } from "../services/egress/stages/random.ts";

const USAGE = `usage: gen --group ADDR --port P [--interface IF | --source ADDR] [--rate PPS] [--size BYTES]
           [--count N] [--flows K] [--ttl T] [--rtp] [--first-seq N] [--json]
           [--second-group ADDR [--second-interface IF] [--second-port P]]
           [--drop-every A,B] [--loss PA,PB --seed S] [--silent PATH:FROM-TO] [--swap PATH]
  Defaults: --rate 1000 --size 1400 --count 10000 (ten seconds), --flows 1, --ttl 8.
  --rate 0 sends as fast as possible; --count 0 runs until SIGINT/SIGTERM.
  ADDR may be IPv4 or IPv6 (--source of the same family; IPv6 multicast leaves by --interface,
  or by the interface that has --source).
  --rtp: each payload starts with an RTP header (its sequence number the low 16 bits of the
  packet's); --first-seq: the first packet's number (default 0).
  Two paths (seamless redundancy): --second-group sends every packet again, to that group (out of
  --second-interface), as path 1; path 0 is --group. Each path loses on its own: --drop-every A,B
  drops every A-th packet of path 0 and every B-th of path 1 (0: none); --loss PA,PB drops with
  those probabilities, seeded by --seed (each path its own draws); --silent 0:1000-3000 does not
  send packets 1000..2999 (counted from the first) on path 0; --swap 1 sends each pair of packets
  of path 1 in the other order.`;

const MAX_UDP = 65507;
const BURST_CAP = 256; // packets per turn before giving timers and signals a chance

export class UsageError extends Error {}

function int(name: string, v: string | undefined, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in ${min}..${max}, got "${v}"`);
  return n;
}

/** The interface's address of a family (IPv6: a global one before link-local, which gets the
 *  interface as its zone). */
export function ifaceAddr(name: string, family: 4 | 6 = 4): string {
  const all = (networkInterfaces()[name] ?? []).filter((x) => x.family === `IPv${family}`);
  const a = family === 6 ? (all.find((x) => !x.address.startsWith("fe80")) ?? all[0]) : all[0];
  if (!a) throw new UsageError(`interface ${name} does not exist or has no IPv${family} address`);
  return family === 6 && a.address.startsWith("fe80") ? `${a.address}%${name}` : a.address;
}

/** The interface that has this address. */
function ifaceOf(addr: string): string | undefined {
  return Object.entries(networkInterfaces()).find(([, as]) => as?.some((a) => a.address === addr))?.[0];
}

export function isMulticast(addr: string): boolean {
  if (isIP(addr) === 6) return addr.toLowerCase().startsWith("ff");
  const first = Number(addr.split(".")[0]);
  return first >= 224 && first <= 239;
}

interface Inject {
  skip: Set<number>;
  dup: Set<number>;
  corrupt: Set<number>;
}

// Hidden test hook: "skip:50,dup:20,corrupt:70" applies to every flow's sequence numbers.
function parseInject(s: string | undefined): Inject | null {
  if (!s) return null;
  const inj: Inject = { skip: new Set(), dup: new Set(), corrupt: new Set() };
  for (const item of s.split(",")) {
    const [kind, n] = item.split(":");
    const seq = Number(n);
    if (!(kind in inj) || !Number.isInteger(seq) || seq < 0) throw new UsageError(`bad --inject item "${item}"`);
    inj[kind as keyof Inject].add(seq);
  }
  return inj;
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
      source: { type: "string" },
      rate: { type: "string" },
      size: { type: "string" },
      count: { type: "string" },
      flows: { type: "string" },
      ttl: { type: "string" },
      json: { type: "boolean", default: false },
      inject: { type: "string" },
      rtp: { type: "boolean", default: false },
      "first-seq": { type: "string" },
      "second-group": { type: "string" },
      "second-interface": { type: "string" },
      "second-port": { type: "string" },
      "drop-every": { type: "string" },
      loss: { type: "string" },
      seed: { type: "string" },
      silent: { type: "string", multiple: true },
      swap: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (v.help) return null;
  const family = v.group ? isIP(v.group) : 0;
  if (family !== 4 && family !== 6) throw new UsageError("--group must be an IPv4 or IPv6 address");
  if (v.port === undefined) throw new UsageError("--port is required");
  if (v.interface && v.source) throw new UsageError("give --interface or --source, not both");
  if (v.source && isIP(v.source) !== family) throw new UsageError(`--source must be an IPv${family} address, as --group is`);
  return {
    group: v.group!,
    family,
    port: int("port", v.port, 0, 1, 65535),
    source: v.interface ? ifaceAddr(v.interface, family) : v.source,
    /** the interface multicast leaves by (IPv6 names it; IPv4 takes the source address) */
    ifname: v.interface ?? (v.source ? ifaceOf(v.source) : undefined),
    rate: int("rate", v.rate, 1000, 0, 1e9),
    size: int("size", v.size, 1400, MIN_SIZE, MAX_UDP),
    count: int("count", v.count, 10_000, 0, Number.MAX_SAFE_INTEGER) || Number.MAX_SAFE_INTEGER,
    flows: int("flows", v.flows, 1, 1, 1024),
    ttl: int("ttl", v.ttl, 8, 0, 255),
    json: v.json,
    inject: parseInject(v.inject),
    rtp: v.rtp,
    firstSeq: int("first-seq", v["first-seq"], 0, 0, Number.MAX_SAFE_INTEGER),
    second: parseSecond(v, family),
  };
}

/** Per path: drop every n-th (0: none), the probability of a seeded loss, packet ranges not sent, swapped pairs. */
interface PathLoss {
  every: number;
  loss: number;
  silent: [number, number][];
  swap: boolean;
}

function pair(name: string, s: string | undefined, ok: (x: number) => boolean): [number, number] {
  if (s === undefined) return [0, 0];
  const xs = s.split(",").map(Number);
  if (xs.length !== 2 || !xs.every(ok)) throw new UsageError(`--${name} takes two values, path 0's and path 1's ("A,B"), got "${s}"`);
  return [xs[0]!, xs[1]!];
}

function parseSecond(v: Record<string, string | boolean | string[] | undefined>, family: number) {
  const group = v["second-group"] as string | undefined;
  const lossArgs = ["drop-every", "loss", "silent", "swap", "second-interface", "second-port"].filter((k) => v[k] !== undefined);
  if (group === undefined) {
    if (lossArgs.length) throw new UsageError(`--${lossArgs[0]} needs --second-group (two paths)`);
    return null;
  }
  if (isIP(group) !== family) throw new UsageError(`--second-group must be an IPv${family} address, as --group is`);
  const every = pair("drop-every", v["drop-every"] as string | undefined, (x) => Number.isInteger(x) && x >= 0);
  const loss = pair("loss", v.loss as string | undefined, (x) => x >= 0 && x <= 1);
  const paths: PathLoss[] = [0, 1].map((p) => ({ every: every[p]!, loss: loss[p]!, silent: [], swap: false }));
  for (const s of (v.silent as string[] | undefined) ?? []) {
    const m = /^([01]):(\d+)-(\d+)$/.exec(s);
    if (!m) throw new UsageError(`--silent takes PATH:FROM-TO (e.g. 0:1000-3000), got "${s}"`);
    paths[Number(m[1])]!.silent.push([Number(m[2]), Number(m[3])]);
  }
  if (v.swap !== undefined) {
    if (v.swap !== "0" && v.swap !== "1") throw new UsageError(`--swap takes a path, 0 or 1, got "${v.swap}"`);
    paths[Number(v.swap)]!.swap = true;
  }
  const ifname = v["second-interface"] as string | undefined;
  return {
    group,
    port: v["second-port"] === undefined ? undefined : int("second-port", v["second-port"] as string, 0, 1, 65535),
    source: ifname ? ifaceAddr(ifname, family as 4 | 6) : undefined,
    ifname,
    paths,
    seed: int("seed", v.seed as string | undefined, 1, 0, 2 ** 32 - 1),
  };
}


export async function main(argv: string[]): Promise<number> {
  let o: ReturnType<typeof parse>;
  try {
    o = parse(argv);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`gen: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (!o) {
    console.log(USAGE);
    return 0;
  }

  if (o.second && o.flows !== 1) {
    console.error("gen: two paths (--second-group) send one flow");
    return 2;
  }
  if (o.rtp && o.size < MIN_SIZE + RTP_HEADER_SIZE) {
    console.error(`gen: --rtp needs --size ${MIN_SIZE + RTP_HEADER_SIZE} or more`);
    return 2;
  }
  const socks: Bun.udp.Socket<"buffer">[] = [];
  /** path 1's socket (--second-group) */
  let second: Bun.udp.Socket<"buffer"> | null = null;
  let drained: (() => void) | null = null;
  const open = async (group: string, source: string | undefined, ifname: string | undefined) => {
    const s = await Bun.udpSocket({
      hostname: source ?? (o.family === 6 ? "::" : "0.0.0.0"),
      port: 0,
      socket: { drain: () => drained?.() },
    });
    if (isMulticast(group)) {
      if (o.family === 6 && ifname) s.setMulticastInterface(`::%${ifname}`);
      else if (o.family === 4 && source) s.setMulticastInterface(source);
      s.setMulticastTTL(o.ttl);
      s.setMulticastLoopback(false);
    } else {
      s.setTTL(o.ttl);
    }
    return s;
  };
  try {
    for (let f = 0; f < o.flows; f++) socks.push(await open(o.group, o.source, o.ifname));
    if (o.second) second = await open(o.second.group, o.second.source ?? o.source, o.second.ifname ?? o.ifname);
  } catch (e) {
    second?.close();
    for (const s of socks) s.close();
    console.error(`gen: cannot set up sockets: ${(e as Error).message}`);
    return 1;
  }

  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  // With --rtp the lab payload follows an RTP header, in a buffer of its own (one copy a packet).
  const writer = new PayloadWriter(o.rtp ? o.size - RTP_HEADER_SIZE : o.size);
  const pkt = o.rtp ? new Uint8Array(o.size) : null;
  const seqs = new Array<number>(o.flows).fill(o.firstSeq);
  // Two paths: each drops on its own; a swapped path holds every even packet until the odd one is out.
  const sec = o.second;
  const rand = sec ? [seeded(sec.seed), seeded((sec.seed ^ 0x9e3779b9) >>> 0)] : [];
  const heldBuf = sec ? new Uint8Array(o.size) : null;
  let heldFor = -1; // the path whose packet is held, -1: none
  const dropped = (p: number, k: number): boolean => {
    const l = sec!.paths[p]!;
    const draw = l.loss > 0 ? rand[p]!() : 1; // every packet draws: one path's choices never shift the other's
    if (l.every > 0 && (k + 1) % l.every === 0) return true;
    if (draw < l.loss) return true;
    for (const [a, b] of l.silent) if (k >= a && k < b) return true;
    return false;
  };
  const secondPort = sec?.port ?? o.port;
  const inj = o.inject;
  let sent = 0; // packets attempted (the count/rate budget), dups included
  let wire = 0; // datagrams handed to the kernel
  let flow = 0;
  const t0 = monotonicNs();
  let tEnd = t0;
  // Only reached when the socket buffer is full (send returned false, EAGAIN).
  const waitDrain = () =>
    new Promise<void>((r) => {
      drained = r;
      setTimeout(r, 5);
    }).finally(() => (drained = null));
  try {
    while (!stop && sent < o.count) {
      const now = monotonicNs();
      // Pace against the start time, not the previous packet, so timer jitter never accumulates.
      const due = o.rate > 0 ? Math.min(o.count, Math.floor(((now - t0) * o.rate) / 1e9) + 1) : o.count;
      const until = Math.min(due, sent + BURST_CAP);
      while (sent < until) {
        const seq = seqs[flow]++;
        if (!inj?.skip.has(seq)) {
          let buf = writer.write(flow, seq, monotonicNs());
          if (pkt) {
            writeRtp(pkt, seq);
            pkt.set(buf, RTP_HEADER_SIZE);
            buf = pkt;
          }
          if (inj?.corrupt.has(seq)) buf[buf.length - 1] ^= 0xff; // (a 24-byte payload has no pattern to break)
          if (sec) {
            const k = seq - o.firstSeq;
            for (let p = 0; p < 2; p++) {
              const s = p === 0 ? socks[0]! : second!;
              const [port, group] = p === 0 ? [o.port, o.group] : [secondPort, sec.group];
              const drop = dropped(p, k);
              if (sec.paths[p]!.swap && k % 2 === 0) {
                // held back: it goes after the next packet of this path
                if (!drop) {
                  heldBuf!.set(buf);
                  heldFor = p;
                }
                continue;
              }
              if (!drop) {
                while (!s.send(buf, port, group)) await waitDrain();
                wire++;
              }
              if (heldFor === p) {
                while (!s.send(heldBuf!, port, group)) await waitDrain();
                wire++;
                heldFor = -1;
              }
            }
          } else {
            for (let copies = inj?.dup.has(seq) ? 2 : 1; copies > 0; ) {
              if (socks[flow].send(buf, o.port, o.group)) {
                copies--;
                wire++;
              } else {
                await waitDrain();
              }
            }
          }
        }
        sent++;
        flow = flow + 1 === o.flows ? 0 : flow + 1;
      }
      tEnd = monotonicNs();
      if (sent >= o.count) break;
      if (o.rate > 0 && sent >= due) {
        const nextNs = t0 + (sent * 1e9) / o.rate;
        await Bun.sleep(Math.max(0, (nextNs - monotonicNs()) / 1e6));
      } else {
        await Bun.sleep(0);
      }
    }
  } catch (e) {
    console.error(`gen: send failed after ${wire} packets: ${(e as Error).message}`);
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    // A packet still held by a swapped path goes out last.
    if (heldFor >= 0 && sec) {
      const s = heldFor === 0 ? socks[0]! : second!;
      if (s.send(heldBuf!, heldFor === 0 ? o.port : secondPort, heldFor === 0 ? o.group : sec.group)) wire++;
    }
    for (const s of socks) s.close();
    second?.close();
  }

  const seconds = (tEnd - t0) / 1e9;
  const pps = seconds > 0 ? Math.round(wire / seconds) : 0;
  if (o.json) console.log(JSON.stringify({ sent: wire, seconds, pps }));
  else console.log(`gen: sent ${wire} packets of ${o.size} B in ${seconds.toFixed(3)} s (${pps} pps)`);
  return 0;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
