// Prometheus text at /metrics (prom-client). Values are read from shared memory at each scrape,
// so they equal the workers' own counters; the API's process metrics come with them.
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { Stats } from "../../shm/stats.ts";
import type { Status } from "../protocol/status.ts";
import type { Rates } from "../../shm/rates.ts";

export interface Snapshot {
  stats: Stats;
  rates: Rates;
  status: Status;
}


export function makeMetrics(snap: () => Snapshot | null, extra: () => { spansExported: number; spansLost: number }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "mcrelay_api_" });
  const ruleLabels = (r: Stats["rules"][number]) => ({ rule: r.name ?? r.id, rule_id: r.id });
  const counter = (name: string, help: string, labelNames: string[], fill: (c: Counter<string>, s: Snapshot) => void) =>
    new Counter({ name, help, labelNames, registers: [registry], collect() {
      const s = snap();
      this.reset();
      if (s) fill(this, s);
    } });
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, s: Snapshot) => void) =>
    new Gauge({ name, help, labelNames, registers: [registry], collect() {
      const s = snap();
      this.reset();
      if (s) fill(this, s);
    } });

  const perRule = (field: "rxPackets" | "rxBytes" | "txPackets" | "txBytes") => (c: Counter<string>, s: Snapshot) => {
    for (const r of s.stats.rules) c.inc(ruleLabels(r), r[field]);
  };
  counter("mcrelay_rule_rx_packets_total", "Packets received and matched by the rule", ["rule", "rule_id"], perRule("rxPackets"));
  counter("mcrelay_rule_rx_bytes_total", "Payload bytes received by the rule", ["rule", "rule_id"], perRule("rxBytes"));
  counter("mcrelay_rule_tx_packets_total", "Packets sent by the rule (one per output)", ["rule", "rule_id"], perRule("txPackets"));
  counter("mcrelay_rule_tx_bytes_total", "Payload bytes sent by the rule", ["rule", "rule_id"], perRule("txBytes"));
  counter("mcrelay_rule_drops_total", "Packets of the rule dropped, by reason", ["rule", "rule_id", "reason"], (c, s) => {
    for (const r of s.stats.rules) for (const [reason, n] of Object.entries(r.drops)) c.inc({ ...ruleLabels(r), reason }, n);
  });
  gauge("mcrelay_rule_up", "1 when the rule forwards, 0 when it waits for an interface or is down", ["rule", "rule_id", "state"], (g, s) => {
    for (const r of s.stats.rules) g.set({ ...ruleLabels(r), state: r.state }, r.state === "active" ? 1 : 0);
  });
  counter("mcrelay_drops_total", "Frames dropped by ingress or egress, by reason (all workers)", ["reason"], (c, s) => {
    for (const [reason, n] of Object.entries(s.stats.drops)) c.inc({ reason }, n);
  });
  counter("mcrelay_worker_frames_total", "Frames ingress read from its AF_PACKET rings", ["worker"], (c, s) => {
    for (const w of s.stats.workers) c.inc({ worker: String(w.index) }, w.ingress.frames);
  });
  counter("mcrelay_worker_sent_packets_total", "Sends egress completed", ["worker"], (c, s) => {
    for (const w of s.stats.workers) c.inc({ worker: String(w.index) }, w.egress.completions);
  });
  counter("mcrelay_worker_kernel_drops_total", "Frames the kernel dropped before ingress read them (PACKET_STATISTICS)", ["worker"], (c, s) => {
    for (const w of s.stats.workers) c.inc({ worker: String(w.index) }, w.ingress.drop_kernel_ring_full);
  });
  gauge("mcrelay_worker_free_slots", "Free buffer slots of the worker pair", ["worker"], (g, s) => {
    for (const w of s.stats.workers) g.set({ worker: String(w.index) }, w.ingress.freeSlots);
  });
  gauge("mcrelay_worker_loop_utilisation", "Share of the last second the worker's loop was not asleep", ["worker", "role"], (g, s) => {
    for (const w of s.rates.workers) {
      g.set({ worker: String(w.index), role: "ingress" }, w.ingressUtilisation);
      g.set({ worker: String(w.index), role: "egress" }, w.egressUtilisation);
    }
  });
  counter("mcrelay_worker_restarts_total", "Times the worker pair had a process replaced", ["worker"], (c, s) => {
    for (const w of s.status.workers.filter((x) => x.role === "ingress")) c.inc({ worker: String(w.index) }, w.restarts);
  });
  counter("mcrelay_trace_spans_total", "Sampled packets exported as spans", [], (c) => c.inc(extra().spansExported));
  counter("mcrelay_trace_records_lost_total", "Sampled packets not exported because the trace ring overran", [], (c) => c.inc(extra().spansLost));
  return registry;
}
