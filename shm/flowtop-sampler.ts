// Rates for flow top: every pair's table sampled once a second, each entry's counters diffed
// with its previous sample (an entry new or replaced since counts from zero).
import { PROTOCOLS } from "../rules/protocols.ts";
import type { FlowTopBody, FlowTopEntry } from "../services/protocol/flowtop.ts";
import type { LinkStatusEntry } from "../services/protocol/status.ts";
import { readFlowTop, type FlowEntry } from "./flowtop.ts";
import type { Segment } from "./segment.ts";

const NAMES = Object.fromEntries(Object.entries(PROTOCOLS).map(([k, v]) => [v, k]));
const ETHERTYPES: Record<number, string> = { 0x0806: "arp", 0x88cc: "lldp", 0x8035: "rarp" };

function protocolName(e: FlowEntry): string {
  if (e.family === 0) return ETHERTYPES[e.protocol] ?? `0x${e.protocol.toString(16).padStart(4, "0")}`;
  return NAMES[e.protocol] ?? String(e.protocol);
}

const keyOf = (pair: number, e: FlowEntry) => `${pair}|${e.channel}|${e.family}|${e.protocol}|${e.src}|${e.dst}|${e.sport}|${e.dport}`;

export class FlowTopSampler {
  private prev: { t: number; counts: Map<string, FlowEntry> } | null = null;
  private last: { windowSeconds: number; rows: { pair: number; e: FlowEntry; pps: number; bps: number }[] } = { windowSeconds: 0, rows: [] };
  private timer: Timer | null = null;

  constructor(private readonly seg: () => Segment | null) {}

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  sample(): void {
    const seg = this.seg();
    if (!seg) return;
    const t = performance.now();
    const counts = new Map<string, FlowEntry>();
    seg.layout.pairs.forEach((pl, pair) => {
      for (const e of readFlowTop(seg.buf, pl.flowTop)) counts.set(keyOf(pair, e), e);
    });
    if (this.prev) {
      const dt = (t - this.prev.t) / 1000;
      const rows: { pair: number; e: FlowEntry; pps: number; bps: number }[] = [];
      for (const [k, e] of counts) {
        const p = this.prev.counts.get(k);
        const frames = p && p.frames <= e.frames ? e.frames - p.frames : e.frames;
        const bytes = p && p.bytes <= e.bytes ? e.bytes - p.bytes : e.bytes;
        if (frames > 0) rows.push({ pair: Number(k.split("|")[0]), e, pps: frames / dt, bps: (8 * bytes) / dt });
      }
      this.last = { windowSeconds: dt, rows };
    }
    this.prev = { t, counts };
  }

  /** The busiest `limit`, named by the links' channels (status.json): entries of channels no link
   *  has any more are left out. */
  top(links: LinkStatusEntry[], limit: number): FlowTopBody {
    const named = new Map<number, Omit<FlowTopEntry, "protocol" | "src" | "dst" | "sport" | "dport" | "pps" | "bps" | "frames" | "bytes">>();
    for (const l of links) {
      for (const direction of ["aToB", "bToA"] as const) {
        const c = l.channels[direction];
        const base = { link: l.name ?? l.id, linkId: l.id, direction };
        named.set(c.no, { ...base, flow: null });
        for (const f of c.flows) named.set(f.no, { ...base, flow: f.name });
      }
    }
    // One 5-tuple may be in several pairs' tables (a flow moved between workers): summed.
    const merged = new Map<string, FlowTopEntry>();
    for (const { e, pps, bps } of this.last.rows) {
      const n = named.get(e.channel);
      if (!n) continue;
      const k = `${e.channel}|${e.family}|${e.protocol}|${e.src}|${e.dst}|${e.sport}|${e.dport}`;
      const ported = e.family !== 0 && !(e.sport === 0xffff && e.dport === 0xffff); // -1 (no ports) is stored as 0xffff
      const m = merged.get(k);
      if (m) {
        m.pps += pps;
        m.bps += bps;
        m.frames += e.frames;
        m.bytes += e.bytes;
      } else {
        merged.set(k, { ...n, protocol: protocolName(e), src: e.src, dst: e.dst, sport: ported ? e.sport : null, dport: ported ? e.dport : null,
          pps, bps, frames: e.frames, bytes: e.bytes });
      }
    }
    const flows = [...merged.values()].sort((a, b) => b.bps - a.bps).slice(0, limit);
    return { windowSeconds: this.last.windowSeconds, flows };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
