// Prometheus text at /metrics. The data plane's series are read from shared memory at each
// scrape, so they equal the workers' own counters (the names of counters and drop reasons come
// from shm/layout.ts); the API process's own metrics (prom-client) come after them. Every
// data-plane series carries the relay's `node` (its --node name), so a dashboard that scrapes a
// fleet adds up or tells apart the nodes without relabelling.
import { collectDefaultMetrics, Registry } from "prom-client";
import { LATENCY_BUCKETS_S, PATH_COUNTERS, SEND_ERRNOS } from "../../shm/layout.ts";
import type { LatencyHistogram } from "../../shm/latency.ts";
import type { Rates } from "../../shm/rates.ts";
import type { Stats } from "../../shm/stats.ts";
import type { Status } from "../protocol/status.ts";
import { Exposition, labelText } from "./exposition.ts";

export interface Snapshot {
  stats: Stats;
  rates: Rates;
  status: Status;
  /** rule number -> its latency histogram */
  latency?: Map<number, LatencyHistogram>;
}

type Labels = (readonly [string, string])[];
const RULE_COUNTERS = [
  ["mcrelay_rule_rx_packets_total", "Packets received and matched by the rule", "rxPackets"],
  ["mcrelay_rule_rx_bytes_total", "Payload bytes received by the rule", "rxBytes"],
  ["mcrelay_rule_tx_packets_total", "Packets sent by the rule (one per output)", "txPackets"],
  ["mcrelay_rule_tx_bytes_total", "Payload bytes sent by the rule", "txBytes"],
] as const;

/** A redundant rule's path counters (shm/layout.ts PATH_COUNTERS) as series. */
const PATH_SERIES = [
  ["packets", "mcrelay_path_rx_packets_total", "counter", "Packets that came on the path (a redundant rule's input)"],
  ["unique", "mcrelay_path_unique_packets_total", "counter", "Packets of the path that were first with their sequence number (what it contributed)"],
  ["duplicates", "mcrelay_path_duplicates_total", "counter", "Copies from the path of a sequence number already there (dropped)"],
  ["repaired", "mcrelay_path_repaired_total", "counter", "Sequence numbers the path missed that another path brought"],
  ["lost", "mcrelay_path_lost_total", "counter", "Sequence numbers the path missed that no path brought"],
  ["late", "mcrelay_path_late_total", "counter", "Copies from the path that came after the merge had passed their number (dropped)"],
  ["up", "mcrelay_path_up", "gauge", "1 while the path brings packets, 0 once it has been silent for the rule's silentMs"],
  ["silences", "mcrelay_path_silences_total", "counter", "Times the path went silent"],
  ["maxLagMs", "mcrelay_path_max_lag_milliseconds", "gauge", "The most one of the path's copies came after the first copy of its number (windowMs must cover it)"],
] as const satisfies readonly (readonly [(typeof PATH_COUNTERS)[number], string, "counter" | "gauge", string])[];

const LINK_COUNTERS = [
  ["mcrelay_link_rx_frames_total", "Frames received on the way's input end", "rxPackets"],
  ["mcrelay_link_rx_bytes_total", "Their bytes", "rxBytes"],
  ["mcrelay_link_tx_frames_total", "Frames sent on the way's far end", "txPackets"],
  ["mcrelay_link_tx_bytes_total", "Their bytes", "txBytes"],
] as const;

/** The data plane's series. */
export function dataPlaneMetrics(s: Snapshot, spans: { exported: number; lost: number }): string {
  const x = new Exposition(s.status.node ? [["node", s.status.node]] : []);
  const rules = s.stats.rules.map((r) => ({ r, labels: labelText([["rule", r.name ?? r.id], ["rule_id", r.id]]) }));
  for (const [name, help, field] of RULE_COUNTERS) {
    x.family(name, "counter", help);
    for (const { r, labels } of rules) x.sampleWith(name, labels, r[field]);
  }
  // A rule's drop series appear once their reason has counted: with 16,384 rules, every reason
  // of every rule would be hundreds of thousands of series that are almost all zero.
  x.family("mcrelay_rule_drops_total", "counter", "Packets of the rule dropped, by reason (a series appears when its reason first counts)");
  for (const { r, labels } of rules) {
    for (const [reason, n] of Object.entries(r.drops)) if (n !== 0) x.sampleWith("mcrelay_rule_drops_total", `${labels},reason="${reason}"`, n);
  }
  // Per output (by its place in the rule's outputs): what each destination got.
  x.family("mcrelay_output_tx_packets_total", "counter", "Datagrams sent to the output (label output: its place in the rule's outputs, from 0)");
  for (const { r, labels } of rules) for (const o of r.outputStats) x.sampleWith("mcrelay_output_tx_packets_total", `${labels},output="${o.index}"`, o.txPackets);
  x.family("mcrelay_output_tx_bytes_total", "counter", "Payload bytes sent to the output");
  for (const { r, labels } of rules) for (const o of r.outputStats) x.sampleWith("mcrelay_output_tx_bytes_total", `${labels},output="${o.index}"`, o.txBytes);
  x.family("mcrelay_output_drops_total", "counter", "Copies for the output dropped, by reason (a series appears when its reason first counts)");
  for (const { r, labels } of rules) {
    for (const o of r.outputStats) {
      for (const [reason, n] of Object.entries(o.drops)) if (n !== 0) x.sampleWith("mcrelay_output_drops_total", `${labels},output="${o.index}",reason="${reason}"`, n);
    }
  }
  // Seamless redundancy: per path of a redundant rule (label path: its place in the rule's inputs).
  const red = rules.filter(({ r }) => r.pathStats);
  x.family("mcrelay_rule_sequence_lost_total", "counter", "Sequence numbers of a redundant rule that no path brought");
  for (const { r, labels } of red) x.sampleWith("mcrelay_rule_sequence_lost_total", labels, r.sequenceLost);
  for (const [field, name, type, help] of PATH_SERIES) {
    x.family(name, type, help);
    for (const { r, labels } of red) for (const p of r.pathStats!) x.sampleWith(name, `${labels},path="${p.index}"`, p[field]);
  }
  // Receive (the kernel's stamp on the frame) to the last send's completion, every packet. A
  // rule's series appear once it has sent a packet: 17 series of zeros for each of 16,384 idle
  // rules would be most of the scrape.
  x.family("mcrelay_rule_latency_seconds", "histogram", "Time from the frame's receive (the kernel's stamp) to the completion of the packet's last send (a rule's series appear once it has sent)");
  for (const { r, labels } of rules) {
    const h = s.latency?.get(r.no);
    if (h && h.counts.some((c) => c !== 0)) x.histogram("mcrelay_rule_latency_seconds", labels, LATENCY_BUCKETS_S, h.counts, h.sumSeconds);
  }
  x.family("mcrelay_rule_up", "gauge", "1 when the rule forwards, 0 when it waits for an interface or is down");
  for (const { r, labels } of rules) x.sampleWith("mcrelay_rule_up", `${labels},state="${r.state}"`, r.state === "active" ? 1 : 0);
  // Links: per way (direction) and flow; flow="" is the way's own frames (no flow matched).
  const ways = s.stats.links.flatMap((l) => (["aToB", "bToA"] as const).flatMap((dir) => [
    { l, c: l[dir] as Omit<typeof l.aToB, "flows">, labels: labelText([["link", l.name ?? l.id], ["link_id", l.id], ["direction", dir], ["flow", ""]]) },
    ...l[dir].flows.map((f) => ({ l, c: f as Omit<typeof l.aToB, "flows">, labels: labelText([["link", l.name ?? l.id], ["link_id", l.id], ["direction", dir], ["flow", f.name]]) })),
  ]));
  for (const [name, help, field] of LINK_COUNTERS) {
    x.family(name, "counter", help);
    for (const { c, labels } of ways) x.sampleWith(name, labels, c[field]);
  }
  x.family("mcrelay_link_drops_total", "counter", "Frames of the link lost, by reason (a series appears when its reason first counts)");
  for (const { c, labels } of ways) for (const [reason, n] of Object.entries(c.drops)) if (n !== 0) x.sampleWith("mcrelay_link_drops_total", `${labels},reason="${reason}"`, n);
  x.family("mcrelay_link_up", "gauge", "1 when the link carries frames, 0 when it waits for an interface or one is down");
  for (const l of s.stats.links) x.sample("mcrelay_link_up", [["link", l.name ?? l.id], ["link_id", l.id], ["state", l.state]], l.state === "active" ? 1 : 0);
  x.family("mcrelay_drops_total", "counter", "Frames and packets lost by ingress or egress, by reason (all workers)");
  for (const [reason, n] of Object.entries(s.stats.drops)) x.sample("mcrelay_drops_total", [["reason", reason]], n);
  const workers = s.stats.workers.map((w) => ({ w, labels: [["worker", String(w.index)]] as Labels }));
  x.family("mcrelay_worker_frames_total", "counter", "Frames ingress read from its AF_PACKET rings");
  for (const { w, labels } of workers) x.sample("mcrelay_worker_frames_total", labels, w.ingress.frames);
  x.family("mcrelay_worker_sent_packets_total", "counter", "Sends egress completed");
  for (const { w, labels } of workers) x.sample("mcrelay_worker_sent_packets_total", labels, w.egress.completions);
  x.family("mcrelay_worker_kernel_drops_total", "counter", "Frames the kernel dropped before ingress read them (PACKET_STATISTICS)");
  for (const { w, labels } of workers) x.sample("mcrelay_worker_kernel_drops_total", labels, w.ingress.drop_kernel_ring_full);
  x.family("mcrelay_send_errors_total", "counter", "Sends that failed, by errno (a series appears when it first counts)");
  for (const { w, labels } of workers) {
    for (const e of SEND_ERRNOS) {
      const n = w.egress[`send_errno_${e}`];
      if (n !== 0) x.sample("mcrelay_send_errors_total", [...labels, ["errno", e]], n);
    }
  }
  x.family("mcrelay_worker_free_slots", "gauge", "Free buffer slots of the worker pair");
  for (const { w, labels } of workers) x.sample("mcrelay_worker_free_slots", labels, w.ingress.freeSlots);
  x.family("mcrelay_worker_loop_utilisation", "gauge", "Share of the last second the worker's loop was not asleep");
  for (const w of s.rates.workers) {
    x.sample("mcrelay_worker_loop_utilisation", [["worker", String(w.index)], ["role", "ingress"]], w.ingressUtilisation);
    x.sample("mcrelay_worker_loop_utilisation", [["worker", String(w.index)], ["role", "egress"]], w.egressUtilisation);
  }
  x.family("mcrelay_worker_schedule", "gauge", "How the worker is scheduled: 0 busy (an ordinary task), 1 quiet (asked to be real-time), 2 quiet and real-time (SCHED_FIFO, on its pair's CPU)");
  for (const { w, labels } of workers) {
    x.sample("mcrelay_worker_schedule", [...labels, ["role", "ingress"]], w.ingress.quiet);
    x.sample("mcrelay_worker_schedule", [...labels, ["role", "egress"]], w.egress.quiet);
  }
  x.family("mcrelay_worker_restarts_total", "counter", "Times the worker pair had a process replaced");
  for (const w of s.status.workers.filter((x) => x.role === "ingress")) x.sample("mcrelay_worker_restarts_total", [["worker", String(w.index)]], w.restarts);
  x.family("mcrelay_multicast_memberships", "gauge", "Multicast groups an input has joined, and joins that failed (they are retried every 5 s)");
  for (const j of s.status.joins ?? []) {
    x.sample("mcrelay_multicast_memberships", [["interface", j.ifname], ["state", "joined"]], j.joined);
    x.sample("mcrelay_multicast_memberships", [["interface", j.ifname], ["state", "failed"]], j.failed);
  }
  x.family("mcrelay_trace_spans_total", "counter", "Sampled packets exported as spans");
  x.sample("mcrelay_trace_spans_total", [], spans.exported);
  x.family("mcrelay_trace_records_lost_total", "counter", "Sampled packets not exported because the trace ring overran");
  x.sample("mcrelay_trace_records_lost_total", [], spans.lost);
  return x.text();
}

/** /metrics: the data plane's series (when there is one), then the API process's. */
export function makeMetrics(snap: () => Snapshot | null, spans: () => { exported: number; lost: number }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "mcrelay_api_" });
  return {
    contentType: registry.contentType,
    async text(): Promise<string> {
      const s = snap();
      return (s ? dataPlaneMetrics(s, spans()) : "") + (await registry.metrics());
    },
  };
}
