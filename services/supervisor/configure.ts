// From a plan to what each worker is told, computed before anything is carried out (Snabb's
// "config applied as computed actions"). Pure: the tables a worker should hold, the difference
// to what it holds, and that difference cut into messages no bigger than the channel takes.
import { UDP } from "../../rules/protocols.ts";
import { JUMBO_PAYLOAD_MAX } from "../../shm/layout.ts";
import { MAX_MESSAGE_BYTES, type EgressOutput, type EgressRule, type IngressLink, type IngressRule } from "../protocol/worker.ts";
import type { PlannedWay } from "./link-plan.ts";
import type { Plan, PlannedOutput, PlannedRule } from "./plan.ts";

/** Outputs from which a rule's copies are shared out among the egresses (with two pairs or more). */
export const SPLIT_MIN_OUTPUTS = 4;

/** How the pairs share the work: how many there are, which one this is, and whether the outputs
 *  of wide rules are split among them (MCRELAY_TUNE_SPLIT). */
export interface Sharing {
  workers: number;
  pair: number;
  split: boolean;
}

/**
 * The rules whose outputs the egresses share: one egress sending every copy of a heavy flow is
 * the fan-out's ceiling, and from 10 outputs two carry 1.4–1.56× the copies even on two vCPUs
 * (docs/PERFORMANCE.md, fan-out). Egress p of P sends the outputs whose index is p mod P; every
 * pair reads the rule's input (sharedInputs). Not a redundant rule (its copies meet in one egress)
 * nor one with impairment (its seeded decisions are per packet, not per share).
 */
export function splitRules(plan: Plan, s: Omit<Sharing, "pair">): Set<number> {
  if (!s.split || s.workers < 2) return new Set();
  const shared = sharedInputs(plan, s);
  return new Set(plan.rules.filter((r) => r.matched && !r.paths && !r.impairment && r.outputs.length >= SPLIT_MIN_OUTPUTS && shared.has(r.ifname)).map((r) => r.no));
}

/**
 * The input interfaces every pair reads whole (each its own socket, a fanout group of one): with
 * splitting on, every rules input but those pinned to one pair. Fixed for the life of the relay
 * but for pinning, so that a rule that comes or goes never opens an interface's sockets again
 * (a frame then in the old rings and the new would be lost or read twice).
 */
export function sharedInputs(plan: Plan, s: Omit<Sharing, "pair">): Set<string> {
  if (!s.split || s.workers < 2) return new Set();
  const pinned = pinnedInputs(plan, s.workers);
  return new Set([...plan.inputs.keys()].filter((i) => !pinned.has(i)));
}

/** A split rule's outputs that pair `pair` of `workers` sends. */
const shareOf = <O extends { index: number }>(outputs: O[], s: Sharing) => outputs.filter((o) => o.index % s.workers === s.pair);

/** One pair, nothing split. */
const ALONE: Sharing = { workers: 1, pair: 0, split: false };

/** What ingress matches: every rule whose input is open (a redundant rule's further inputs as
 *  `also`); a split rule is down for a pair whose share of its outputs is down. */
export function ingressRules(plan: Plan, s: Sharing = ALONE): IngressRule[] {
  const split = splitRules(plan, s);
  return plan.rules.filter((r) => r.matched).map((r) => ({
    no: r.no, ifname: r.ifname, vlan: r.vlan, group: r.group, port: r.port, protocol: r.protocol, source: r.source, sample: r.sample, cls: r.cls,
    down: (split.has(r.no) ? shareOf(r.outputs, s) : r.outputs).length === 0,
    sum: r.outputs.some((o) => o.raw && o.checksum),
    ...(split.has(r.no) ? { split: true } : {}),
    ...(r.paths ? { also: r.paths.slice(1).map((p) => ({ ifname: p.ifname, vlan: p.vlan, group: p.group, port: p.port, source: p.source })) } : {}),
  }));
}

/**
 * The pair that alone reads each input interface of a redundant rule. Every pair's socket of an
 * interface is in one PACKET_FANOUT_HASH group, which spreads flows by their hash: the A and B
 * copies of a stream are two flows (two groups, often two interfaces) and would land in different
 * pairs, whose egresses cannot see each other's packets. So the interfaces of redundant rules
 * (joined when a rule has inputs on several, as a union of sets) are each read by one pair: the
 * hash of the set's first name, modulo the pairs — stable while the set stays, whatever else
 * changes. Other rules on such an interface are read by that pair too. (With one pair, nothing.)
 */
export function pinnedInputs(plan: Plan, workers: number): Map<string, number> {
  if (workers <= 1) return new Map(); // one pair reads everything anyway
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let p = parent.get(x) ?? x;
    while (p !== (parent.get(p) ?? p)) p = parent.get(p)!;
    parent.set(x, p);
    return p;
  };
  for (const r of plan.rules) {
    if (!r.matched || !r.paths) continue;
    const names = r.paths.map((p) => p.ifname);
    for (const n of names) if (!parent.has(n)) parent.set(n, n);
    for (const n of names.slice(1)) {
      const [a, b] = [find(names[0]!), find(n)];
      if (a !== b) parent.set(a < b ? b : a, a < b ? a : b); // the smaller name is the root
    }
  }
  const out = new Map<string, number>();
  for (const n of parent.keys()) out.set(n, fnv(find(n)) % Math.max(1, workers));
  return out;
}

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** What egress needs to know about outputs beyond the plan: the socket it sends each on, the
 *  source port of a raw one, and each output's counter row. */
export interface OutputFacts {
  socketKey(o: PlannedOutput): string;
  sourcePort(o: PlannedOutput): number;
  row(no: number, index: number): number;
}

/** The IP header by family (IPv4 without options; IPv6 without extension headers); UDP adds 8. */
export const IP_HEADER = { 4: 20, 6: 40 } as const;

export function egressOutput(no: number, o: PlannedOutput, f: OutputFacts): EgressOutput {
  const headers = IP_HEADER[o.family] + (o.protocol === UDP ? 8 : 0);
  const out: EgressOutput = { socket: f.socketKey(o), row: f.row(no, o.index), maxPayload: o.mtu - headers, preserve: o.preserve,
    ...(o.family === 6 ? { v6: true } : {}) };
  if (!o.raw) return out;
  return { ...out, raw: { srcMac: o.mac, src: o.src, dst: o.addr, sport: f.sourcePort(o), dport: o.port, ttl: o.ttl, dscp: o.dscp,
    preserve: o.preserve, checksum: o.checksum || o.family === 6 }, ...(o.gso ? { gso: true as const } : {}) };
}

/** What egress sends for: every matched rule with an output up, on the outputs that opened; and
 *  every channel of a link way that is up, to the way's far end. */
export function egressRules(plan: Plan, opened: (o: PlannedOutput) => boolean, f: OutputFacts, frameOpened: (key: string) => boolean = () => true,
  s: Sharing = ALONE): EgressRule[] {
  const workers = s.workers;
  const pinned = pinnedInputs(plan, workers);
  const split = splitRules(plan, s);
  const mine = (r: PlannedRule) => (split.has(r.no) ? shareOf(r.outputs, s) : r.outputs);
  const rules = plan.rules.filter((r) => r.matched && mine(r).length > 0).map((r) => ({
    no: r.no, outputs: mine(r).filter(opened).map((o) => egressOutput(r.no, o, f)), cls: r.cls, ...(r.impairment ? { impairment: r.impairment } : {}),
    ...(r.paths && r.redundancy ? { redundancy: { ...r.redundancy, paths: r.paths.length, pair: pinned.get(r.ifname) ?? 0, id: r.id } } : {}),
  }));
  const channels = linkWays(plan).filter((w) => !w.down).flatMap((w) => {
    const key = frameSocketKey(w.to, w.toIfindex);
    const outputs: EgressOutput[] = frameOpened(key) ? [{ socket: key, row: -1, maxPayload: JUMBO_PAYLOAD_MAX, preserve: false }] : [];
    return w.channels.map((c) => ({ no: c.no, link: true, outputs, cls: -1, ...(c.impairment ? { impairment: c.impairment } : {}) }));
  });
  return [...rules, ...channels];
}

/** The ways of the links whose ends are open. */
export function linkWays(plan: Plan): PlannedWay[] {
  return plan.links.filter((l) => l.open).flatMap((l) => l.ways);
}

/** The packet socket egress sends a link's frames out of `ifname` on (a virtio_net_hdr first). */
export function frameSocketKey(ifname: string, ifindex: number): string {
  return `frame:${ifname}#${ifindex}`;
}

/** How ingress sorts the frames of each link way: by the end they arrive on. */
export function ingressLinks(plan: Plan): IngressLink[] {
  return linkWays(plan).map((w) => ({
    ifname: w.from, no: w.channels[0]!.no, down: w.down,
    flows: w.channels.slice(1).map((c) => ({ no: c.no, ...c.match! })),
  }));
}

export interface Delta<T> {
  put: T[];
  remove: number[];
}

/** The JSON of entries a worker holds, made once: a change of one rule among 16,384 compares
 *  every entry, and the held ones are the same objects from change to change. */
const heldJson = new WeakMap<object, string>();
const jsonOfHeld = (h: object): string => {
  let j = heldJson.get(h);
  if (j === undefined) heldJson.set(h, (j = JSON.stringify(h)));
  return j;
};

/** What turns `have` into `want`: entries new or different (compared as JSON), numbers gone. */
export function delta<T extends { no: number }>(have: ReadonlyMap<number, T>, want: T[]): Delta<T> {
  const put = want.filter((w) => {
    const h = have.get(w.no);
    return h === undefined || jsonOfHeld(h) !== JSON.stringify(w);
  });
  const keep = new Set(want.map((w) => w.no));
  const remove = [...have.keys()].filter((no) => !keep.has(no));
  return { put, remove };
}

/** Applies a delta to a table (what the worker will hold once it has taken it). */
export function applyDelta<T extends { no: number }>(have: Map<number, T>, d: Delta<T>): void {
  for (const no of d.remove) have.delete(no);
  for (const t of d.put) have.set(t.no, t);
}

export interface Part<M> {
  msg: M;
  /** fds to send with it; the message's fd indices refer to this list */
  fds: number[];
}

/**
 * Cuts a configuration into parts of at most MAX_MESSAGE_BYTES of JSON and maxFds fds; the last
 * part carries `last: true` and `tail` (e.g. ingress's complete input list). Items with an fd
 * (sockets) come first, each part re-indexing its own fds.
 */
export function cut<M extends { version: number; last: boolean }>(
  version: number,
  lists: { sockets?: { key: string; fd: number }[]; put: unknown[]; remove: number[] },
  maxFds: number,
  tail: Record<string, unknown> = {},
  /** fds the tail's own indices refer to (ingress's new input sockets): they travel in a part of their own */
  tailFds: number[] = [],
): Part<M>[] {
  const parts: Part<M>[] = [];
  const budget = MAX_MESSAGE_BYTES - 1024 - JSON.stringify(tail).length;
  let cur: { sockets: { key: string; fd: number }[]; put: unknown[]; remove: number[]; fds: number[]; bytes: number } | null = null;
  const fresh = () => ({ sockets: [], put: [], remove: [], fds: [], bytes: 0 });
  const flush = () => {
    if (!cur) return;
    parts.push({ msg: { type: "config", version, last: false, ...(cur.sockets.length ? { sockets: cur.sockets } : {}), ...(cur.put.length ? { put: cur.put } : {}),
      ...(cur.remove.length ? { remove: cur.remove } : {}) } as unknown as M, fds: cur.fds });
    cur = null;
  };
  const room = (bytes: number, fds = 0) => {
    if (cur && (cur.bytes + bytes > budget || cur.fds.length + fds > maxFds)) flush();
    cur ??= fresh();
    cur.bytes += bytes;
  };
  for (const s of lists.sockets ?? []) {
    room(JSON.stringify(s.key).length + 16, 1);
    cur!.sockets.push({ key: s.key, fd: cur!.fds.length });
    cur!.fds.push(s.fd);
  }
  for (const p of lists.put) {
    room(JSON.stringify(p).length + 1);
    cur!.put.push(p);
  }
  for (const n of lists.remove) {
    room(12);
    cur!.remove.push(n);
  }
  flush();
  if (parts.length === 0 || tailFds.length) parts.push({ msg: { type: "config", version, last: false } as unknown as M, fds: tailFds });
  const last = parts[parts.length - 1];
  last.msg = { ...last.msg, ...tail, last: true };
  return parts;
}
