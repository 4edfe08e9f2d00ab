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
import { MIN_SIZE, PayloadWriter } from "./payload.ts";

const USAGE = `usage: gen --group ADDR --port P [--interface IF | --source ADDR] [--rate PPS] [--size BYTES]
           [--count N] [--flows K] [--ttl T] [--json]
  Defaults: --rate 1000 --size 1400 --count 10000 (ten seconds), --flows 1, --ttl 8.
  --rate 0 sends as fast as possible; --count 0 runs until SIGINT/SIGTERM.
  ADDR may be IPv4 or IPv6 (--source of the same family; IPv6 multicast leaves by --interface,
  or by the interface that has --source).`;

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

  const mcast = isMulticast(o.group);
  const socks: Bun.udp.Socket<"buffer">[] = [];
  let drained: (() => void) | null = null;
  try {
    for (let f = 0; f < o.flows; f++) {
      const s = await Bun.udpSocket({
        hostname: o.source ?? (o.family === 6 ? "::" : "0.0.0.0"),
        port: 0,
        socket: { drain: () => drained?.() },
      });
      socks.push(s);
      if (mcast) {
        if (o.family === 6 && o.ifname) s.setMulticastInterface(`::%${o.ifname}`);
        else if (o.family === 4 && o.source) s.setMulticastInterface(o.source);
        s.setMulticastTTL(o.ttl);
        s.setMulticastLoopback(false);
      } else {
        s.setTTL(o.ttl);
      }
    }
  } catch (e) {
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

  const writer = new PayloadWriter(o.size);
  const seqs = new Array<number>(o.flows).fill(0);
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
          const buf = writer.write(flow, seq, monotonicNs());
          if (inj?.corrupt.has(seq)) buf[buf.length - 1] ^= 0xff; // (a 24-byte payload has no pattern to break)
          for (let copies = inj?.dup.has(seq) ? 2 : 1; copies > 0; ) {
            if (socks[flow].send(buf, o.port, o.group)) {
              copies--;
              wire++;
            } else {
              await waitDrain();
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
    for (const s of socks) s.close();
  }

  const seconds = (tEnd - t0) / 1e9;
  const pps = seconds > 0 ? Math.round(wire / seconds) : 0;
  if (o.json) console.log(JSON.stringify({ sent: wire, seconds, pps }));
  else console.log(`gen: sent ${wire} packets of ${o.size} B in ${seconds.toFixed(3)} s (${pps} pps)`);
  return 0;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
