// The one definition of the shared-memory segment. Every process (and any tool) computes
// the same offsets from the parameters stored in the header. The C core never parses the
// segment: it is handed raw addresses, so no second copy of this layout exists.

export const SHM_MAGIC = 0x4c52434d; // "MCRL" in little-endian bytes
export const LAYOUT_VERSION = 8;
export const LINE = 64;
/** Link frames by 5-tuple, per pair (shm/flowtop.ts): entries of one cache line each. */
export const FLOW_TOP_ENTRIES = 4096;
export const FLOW_TOP_ENTRY_BYTES = 64;
export const HEADER_BYTES = 4096;

export const STD_SLOT_BYTES = 2048;
/** Big enough for a link's TSO/GSO super-frame (64 KiB and its virtio_net_hdr), or a jumbo datagram. */
export const JUMBO_SLOT_BYTES = 65536 + 128;
/**
 * Slot header (u32 words): rule number, payload length, sampled flag, outputs; then for sampled
 * packets only: source, destination, ports (src << 16 | dst); the input's TOS byte (word 7,
 * always); at byte 32 the receive time (f64 ns, CLOCK_MONOTONIC); word 10 the payload's
 * ones'-complement sum when ingress computed it (0xffffffff when not); word 11 a sampled packet's
 * address family (4, or 6: then src and dst are not its addresses, which do not fit). Words 12
 * and 13, always: the kernel's receive time of the frame (CLOCK_REALTIME seconds and
 * nanoseconds, from the AF_PACKET ring: what the latency histogram counts from). Word 14: the
 * path in its top 2 bits (SLOT_PATH_SHIFT: which of a redundant rule's inputs it came in on; 0
 * for every other rule), and, sampled packets only, the frame's wait in the AF_PACKET ring below
 * (ns, kernel receive to ingress, at most RING_WAIT_MASK). Word 15: when ingress took it
 * (CLOCK_MONOTONIC ms mod 2^32, read once per batch: a redundant rule's gaps wait by it, so a
 * worker that fell behind does not give up a gap whose filler waits in the ring). The payload
 * follows at SLOT_HEADER_BYTES.
 */
export const SLOT_HEADER_BYTES = 64;
export const SH = {
  rule: 0, len: 1, sampled: 2, outputs: 3, src: 4, dst: 5, ports: 6, tos: 7, rxNsF64: 4, csum: 10, family: 11,
  rxSec: 12, rxNsec: 13, path: 14, ringWaitNs: 14, stampMs: 15,
} as const;
/** SH.path's word: the path above this bit, a sampled packet's ring wait below it. */
export const SLOT_PATH_SHIFT = 30;
export const RING_WAIT_MASK = (1 << SLOT_PATH_SHIFT) - 1;

/** The most inputs (paths) a redundant rule has: SMPTE ST 2022-7 sends two, market-data feeds A/B, some more. */
export const MAX_PATHS = 4;

/** Trace ring per pair: sampled packets, written by egress, read by anyone (lossy, seq-checked). */
export const TRACE_RECORDS = 4096;
export const TRACE_RECORD_BYTES = 48;
/** Beside the trace ring, per record: its packet's stages (shm/trace.ts TraceStages). */
export const TRACE_STAGE_BYTES = 16;

/**
 * Relay latency, receive (the kernel's stamp on the frame) to the last send's completion: a
 * histogram per rule number and pair, kept by egress, f64 words: a count per bucket (upper bounds
 * in seconds, the last bucket unbounded), then the sum of the latencies in seconds.
 */
export const LATENCY_BUCKETS_S = [5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1] as const;
export const LATENCY_WORDS = LATENCY_BUCKETS_S.length + 2;
export const STD_PAYLOAD_MAX = STD_SLOT_BYTES - SLOT_HEADER_BYTES;
export const JUMBO_PAYLOAD_MAX = JUMBO_SLOT_BYTES - SLOT_HEADER_BYTES;

/** Inputs one ingress reads at most (its poll set holds them and its control channel). */
export const MAX_INPUTS = 63;
/**
 * Ingress progress, per pair and input slot (f64 words): the last batch handed to egress — for a
 * TPACKET_V3 ring its block's sequence number; for V2 the frames [start, end) — and the descriptor
 * ring's head after that batch. A replacement ingress that finds the ring's head equal to `head`
 * knows the batch went out; otherwise it reads the batch again. Nothing is lost or sent twice.
 */
export const PROGRESS = { seq: 0, start: 1, end: 2, head: 3 } as const;
export const PROGRESS_WORDS = 4;

/** Ring header: producer's head on line 0, consumer's tail and sleep flag on line 1. */
export const RING_HEADER_BYTES = 2 * LINE;

/**
 * Why a frame or packet was not forwarded. Every loss has exactly one of these names: in shared
 * memory (the counter `drop_<reason>` of the worker that saw it), in /api/v1/stats (`drops`), in
 * /metrics (`reason`) and on the dashboard, which shows the description.
 */
export const DROP_REASONS = {
  short_frame: "shorter than an Ethernet header",
  not_ip: "neither IPv4 nor IPv6 (ARP, LLDP, …)",
  qinq: "two VLAN tags (QinQ): a rule takes one",
  vlan: "VLAN-tagged with an id no rule of its input takes",
  ip_truncated: "IP header, or an IPv6 extension header, cut short",
  bad_ihl: "bad IPv4 header length",
  bad_total_length: "IP length (IPv4 total length, IPv6 payload length) disagrees with the frame",
  fragment: "an IP fragment (IPv4 flags or offset, an IPv6 fragment header)",
  not_udp: "not UDP, and no rule takes its protocol",
  bad_udp_length: "UDP length disagrees with IP",
  udp_zero_checksum: "UDP over IPv6 without a checksum (RFC 8200 forbids it)",
  bad_ip_checksum: "IPv4 header checksum is wrong",
  ttl_zero: "TTL (IPv6 hop limit) 0: it must not be forwarded",
  martian_source: "source address no host can have (IPv4 0/8, 127/8, multicast, 240/4, broadcast; IPv6 ::, ::1, multicast)",
  bad_udp_checksum: "UDP checksum is wrong (the datagram was corrupted on the way)",
  other_host: "addressed to another host's MAC (seen in promiscuous mode)",
  oversize: "bigger than a buffer slot or a ring frame",
  no_rule: "no rule takes its group and port",
  outgoing: "the relay's own outgoing frame",
  rule_down: "the rule's input or every output is down",
  pool_exhausted: "no free buffer: egress is behind",
  ring_full: "the ring to egress was full",
  kernel_ring_full: "the kernel's capture ring overflowed: ingress fell behind",
  worker_restart: "held by a worker that died (sent or lost, never resent)",
  send_error: "a send to an output failed",
  impairment: "dropped by the rule's impairment stages",
  no_output: "the rule had no open output when it was sent",
  mtu_exceeded: "bigger than the output interface's MTU allows (never fragmented)",
  redundant_copy: "a copy of a sequence number already forwarded: seamless redundancy sends each once",
  redundant_late: "came after the merge had moved past its sequence number (its gap given up, or older than the window)",
  no_sequence: "a redundant rule's packet without a sequence number to read (too short, not RTP version 2, or another SSRC)",
} as const;
export type DropReason = keyof typeof DROP_REASONS;

/** Reasons the frame parser returns (code 1 + index; services/ingress/parse.ts). */
export const PARSE_DROPS = ["short_frame", "not_ip", "qinq", "ip_truncated", "bad_ihl", "bad_total_length",
  "bad_ip_checksum", "fragment", "ttl_zero", "martian_source", "not_udp", "bad_udp_length", "udp_zero_checksum"] as const satisfies readonly DropReason[];

const drop = <const R extends readonly DropReason[]>(r: R) => r.map((x) => `drop_${x}` as const) as { [K in keyof R]: `drop_${R[K]}` };

/**
 * Counters, float64 in shared memory, one writer each. A counter named `drop_<reason>` counts
 * losses of that reason; everything that reports drops derives them from these names.
 * Worker counters: one block per ingress and per egress process.
 */
export const INGRESS_COUNTERS = [
  "heartbeatMs", "loops", "sleeps", "sleepNs", "frames", "matched", "bytes", "sampled", "checksummed",
  "kernelPackets", "kernelFreezes", "freeSlots",
  ...drop(PARSE_DROPS),
  ...drop(["oversize", "vlan", "no_rule", "outgoing", "other_host", "rule_down", "bad_udp_checksum", "pool_exhausted", "ring_full", "kernel_ring_full",
    "worker_restart"] as const),
  // interrupt moderation (services/ingress/moderation.ts): timed holds, and the hold now (µs; 0: per frame)
  "holds", "holdUs",
  // services/schedule.ts: 0 busy, 1 quiet, 2 quiet and real-time; the CPU it is pinned to while quiet (-1: none)
  "quiet", "quietCpu",
] as const;
/** Send errors by errno, for egress's counters `send_errno_<NAME>` (the rest: `send_errno_other`). */
export const SEND_ERRNOS = ["EAGAIN", "ENOBUFS", "EMSGSIZE", "ENETDOWN", "ENETUNREACH", "EHOSTUNREACH", "ENXIO", "EPERM", "EACCES", "EINVAL", "other"] as const;

export const EGRESS_COUNTERS = [
  "heartbeatMs", "loops", "sleeps", "sleepNs", "descriptors", "sends", "completions", "txBytes", "inflight", "traced",
  "gsoSends", "gsoDatagrams", // super-frames of gso outputs, and the datagrams they carried
  "quiet", "quietCpu", // as ingress's
  ...drop(["send_error", "impairment", "no_output", "mtu_exceeded", "redundant_copy", "redundant_late", "no_sequence"] as const),
  ...SEND_ERRNOS.map((e) => `send_errno_${e}` as const),
] as const;

/** Counters per rule, one row per rule number in every worker (one writer each). */
export const INGRESS_RULE_COUNTERS = ["rxPackets", "rxBytes",
  ...drop(["pool_exhausted", "ring_full", "oversize", "rule_down", "bad_udp_checksum", "worker_restart"] as const)] as const;
export const EGRESS_RULE_COUNTERS = ["txPackets", "txBytes", "duplicated", "sequenceLost",
  ...drop(["send_error", "impairment", "no_output", "mtu_exceeded", "redundant_copy", "redundant_late", "no_sequence"] as const)] as const;

/**
 * Per path of a redundant rule (rule number × MAX_PATHS rows, kept by the egress that merges it):
 * packets that came on it; unique: those that were first with their sequence number (what it
 * contributed); duplicates: copies of a number already there; repaired: numbers it missed that
 * another path brought; lost: numbers it missed that no path brought; late: copies that came after
 * the merge had passed them; up: 1 while it brings packets, 0 once silent (silentMs); silences: how
 * often it went silent; maxLagMs: the most one of its copies came after the first copy of its number
 * (what windowMs must cover for the path to count as a spare).
 */
export const PATH_COUNTERS = ["packets", "unique", "duplicates", "repaired", "lost", "late", "up", "silences", "maxLagMs"] as const;

/** Counters per output (a rule's output, by its row), kept by egress. */
export const OUTPUT_COUNTERS = ["txPackets", "txBytes", ...drop(["mtu_exceeded", "send_error"] as const)] as const;
/** Output rows per rule number: outputs beyond what the rows hold are counted per rule only. */
export const OUTPUT_ROWS_PER_RULE = 2;

type ReasonOf<C> = C extends `drop_${infer R}` ? R : never;
/** Reasons a rule's packets are dropped for (its `drops`). */
export type RuleDropReason = ReasonOf<(typeof INGRESS_RULE_COUNTERS)[number] | (typeof EGRESS_RULE_COUNTERS)[number]>;

/** The reasons among a list of counter names, in order. */
export function dropsOf(counters: readonly string[]): DropReason[] {
  return counters.filter((c) => c.startsWith("drop_")).map((c) => c.slice(5) as DropReason);
}

export const RULE_DROP_REASONS = [...new Set([...dropsOf(INGRESS_RULE_COUNTERS), ...dropsOf(EGRESS_RULE_COUNTERS)])] as RuleDropReason[];
/** Every reason a worker counts, ingress's then egress's. */
export const WORKER_DROP_REASONS = [...dropsOf(INGRESS_COUNTERS), ...dropsOf(EGRESS_COUNTERS)];

export interface LayoutParams {
  workers: number;
  maxRules: number;
  slots: number;
  jumboSlots: number;
}

export interface PairLayout {
  /** ingress's table of the 5-tuples its links carry (shm/flowtop.ts) */
  flowTop: number;
  descRing: number;
  freeRing: number;
  ingressCounters: number;
  egressCounters: number;
  ingressRules: number;
  egressRules: number;
  egressOutputs: number;
  /** per rule and path (PATH_COUNTERS), for redundant rules */
  egressPaths: number;
  ingressProgress: number;
  traceRing: number;
  /** per trace record, its packet's stages */
  traceStages: number;
  /** egress's latency histograms, LATENCY_WORDS per rule number */
  egressLatency: number;
  pool: number;
  jumboPool: number;
}

export interface Layout extends LayoutParams {
  ringCapacity: number;
  pairs: PairLayout[];
  size: number;
}

const align = (v: number, a: number) => Math.ceil(v / a) * a;

export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export function computeLayout(p: LayoutParams): Layout {
  // A ring that can hold every slot of its pair: the pool, not the ring, is what runs out.
  const ringCapacity = nextPow2(p.slots + p.jumboSlots);
  const ringBytes = RING_HEADER_BYTES + 4 * ringCapacity;
  let off = HEADER_BYTES;
  const take = (bytes: number, a = LINE) => {
    off = align(off, a);
    const at = off;
    off += bytes;
    return at;
  };
  const pairs: PairLayout[] = [];
  for (let i = 0; i < p.workers; i++) {
    pairs.push({
      descRing: take(ringBytes),
      freeRing: take(ringBytes),
      ingressCounters: take(8 * INGRESS_COUNTERS.length),
      egressCounters: take(8 * EGRESS_COUNTERS.length),
      ingressRules: take(8 * INGRESS_RULE_COUNTERS.length * p.maxRules),
      egressRules: take(8 * EGRESS_RULE_COUNTERS.length * p.maxRules),
      egressOutputs: take(8 * OUTPUT_COUNTERS.length * OUTPUT_ROWS_PER_RULE * p.maxRules),
      egressPaths: take(8 * PATH_COUNTERS.length * MAX_PATHS * p.maxRules),
      ingressProgress: take(8 * PROGRESS_WORDS * MAX_INPUTS),
      traceRing: take(LINE + TRACE_RECORD_BYTES * TRACE_RECORDS),
      flowTop: take(FLOW_TOP_ENTRY_BYTES * FLOW_TOP_ENTRIES, LINE),
      traceStages: take(TRACE_STAGE_BYTES * TRACE_RECORDS),
      egressLatency: take(8 * LATENCY_WORDS * p.maxRules),
      pool: take(STD_SLOT_BYTES * p.slots, 4096),
      jumboPool: take(JUMBO_SLOT_BYTES * p.jumboSlots, 4096),
    });
  }
  return { ...p, ringCapacity, pairs, size: align(off, 4096) };
}

/** Where a pair's slots are: standard slots first, then jumbo slots. Workers keep one per pair. */
export class PairSlots {
  private readonly pool: number;
  private readonly jumboPool: number;
  private readonly slots: number;

  constructor(l: Layout, pair: number) {
    this.pool = l.pairs[pair].pool;
    this.jumboPool = l.pairs[pair].jumboPool;
    this.slots = l.slots;
  }

  /** Byte offset of slot idx in the segment. */
  offset(idx: number): number {
    return idx < this.slots ? this.pool + idx * STD_SLOT_BYTES : this.jumboPool + (idx - this.slots) * JUMBO_SLOT_BYTES;
  }
}

export function slotOffset(l: Layout, pair: number, idx: number): number {
  return new PairSlots(l, pair).offset(idx);
}

// Header words (u32 index). The parameters are enough to recompute everything else.
const H = { magic: 0, version: 1, workers: 2, maxRules: 3, slots: 4, jumboSlots: 5, size: 6, supervisorPid: 7 } as const;

export function writeHeader(buf: ArrayBuffer, l: Layout, supervisorPid: number): void {
  const h = new Uint32Array(buf, 0, 16);
  h[H.version] = LAYOUT_VERSION;
  h[H.workers] = l.workers;
  h[H.maxRules] = l.maxRules;
  h[H.slots] = l.slots;
  h[H.jumboSlots] = l.jumboSlots;
  h[H.size] = l.size;
  h[H.supervisorPid] = supervisorPid;
  // Magic last: a reader that sees it sees the rest.
  Atomics.store(h, H.magic, SHM_MAGIC);
}

export function readHeader(buf: ArrayBuffer): Layout & { supervisorPid: number } {
  const h = new Uint32Array(buf, 0, 16);
  if (Atomics.load(h, H.magic) !== SHM_MAGIC) throw new Error("not an mcrelay segment (bad magic)");
  if (h[H.version] !== LAYOUT_VERSION) throw new Error(`segment layout version ${h[H.version]}, expected ${LAYOUT_VERSION}`);
  const l = computeLayout({ workers: h[H.workers], maxRules: h[H.maxRules], slots: h[H.slots], jumboSlots: h[H.jumboSlots] });
  if (l.size !== h[H.size]) throw new Error(`segment size ${h[H.size]} does not match its layout (${l.size})`);
  return { ...l, supervisorPid: h[H.supervisorPid] };
}
