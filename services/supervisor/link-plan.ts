// From the desired links and the interfaces now: each link's state, and for each of its two ways
// the channels ingress sorts frames into (rule numbers: the counters and egress pipelines of the
// way's own frames and of each flow's) with the impairment each runs. Pure.
import { parseCidr } from "../../rules/cidr.ts";
import { DIRECTIONS, type Direction, type FlowMatch } from "../../rules/link.ts";
import { PROTOCOLS } from "../../rules/protocols.ts";
import type { Impairment } from "../../rules/schema.ts";
import type { LinkStatusEntry } from "../protocol/status.ts";
import type { IngressFlow } from "../protocol/worker.ts";
import { channelKeys, type IdentifiedLink } from "./desired-links.ts";
import type { Netdev } from "./netdevs.ts";

export interface PlannedChannel {
  no: number;
  /** the flow's index, -1 for the way's own frames */
  flow: number;
  name?: string;
  impairment?: Impairment;
  /** how ingress tells the flow's frames (absent for the way's own channel) */
  match?: Omit<IngressFlow, "no">;
}

export interface PlannedWay {
  dir: Direction;
  from: string;
  fromIfindex: number;
  to: string;
  toIfindex: number;
  /** an end is down: what arrives is counted as rule_down */
  down: boolean;
  /** the way's own channel first, then its flows' in order */
  channels: PlannedChannel[];
}

/** A link as the plan has it: what status.json says of it, and its ways. */
export interface PlannedLink extends Omit<LinkStatusEntry, "channels"> {
  /** both ends exist: their sockets are open and the ways configured */
  open: boolean;
  ways: PlannedWay[];
}

/** A flow's match as ingress compares it; -1 (or family 0) where a field is not matched on. */
export function compileMatch(m: FlowMatch): Omit<IngressFlow, "no"> {
  const c = m.address ? parseCidr(m.address) : null;
  const [lo, hi] = m.ports ? m.ports.split("-").map(Number) : [-1, -1];
  return {
    family: c ? (c.v6 ? 6 : 4) : 0, prefix: c?.bytes ?? [], bits: c?.bits ?? 0,
    protocol: m.protocol === undefined ? -1 : typeof m.protocol === "number" ? m.protocol : PROTOCOLS[m.protocol],
    portLo: lo!, portHi: hi ?? lo!,
  };
}

/** A flow's settings over its way's: the fields it sets replace the way's, the rest stay. */
function merged(base: Impairment | undefined, over: Impairment | undefined): Impairment | undefined {
  if (!base && !over) return undefined;
  return { ...base, ...over };
}

export function planLinks(links: IdentifiedLink[], numberOf: (key: string) => number, netdevs: Map<string, Netdev>): PlannedLink[] {
  return links.map((l) => {
    const na = netdevs.get(l.a), nb = netdevs.get(l.b);
    const missing = [l.a, l.b].filter((n) => !netdevs.has(n));
    const downs = [l.a, l.b].filter((n) => netdevs.get(n) && !netdevs.get(n)!.up);
    const keys = channelKeys(l);
    const ways = DIRECTIONS.map((dir): PlannedWay => {
      const [from, to] = dir === "aToB" ? [na, nb] : [nb, na];
      const channels = keys.filter((k) => k.dir === dir).map((k): PlannedChannel => {
        const f = k.flow >= 0 ? l.flows![k.flow]! : undefined;
        const impairment = merged(l[dir], f?.[dir]);
        return { no: numberOf(k.key), flow: k.flow, ...(f ? { name: f.name, match: compileMatch(f.match) } : {}), ...(impairment ? { impairment } : {}) };
      });
      return { dir, from: dir === "aToB" ? l.a : l.b, fromIfindex: from?.ifindex ?? 0, to: dir === "aToB" ? l.b : l.a, toIfindex: to?.ifindex ?? 0,
        down: !(from?.up && to?.up), channels };
    });
    const p: PlannedLink = { id: l.id, ...(l.name !== undefined ? { name: l.name } : {}), a: l.a, b: l.b, state: "active", open: missing.length === 0, ways };
    if (missing.length) {
      p.state = "waiting";
      p.reason = `waiting for interface${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`;
    } else if (downs.length) {
      p.state = "down";
      p.reason = `${downs.join(" and ")} ${downs.length > 1 ? "are" : "is"} down`;
    }
    return p;
  });
}
