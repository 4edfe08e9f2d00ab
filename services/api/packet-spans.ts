// Sampled packets become spans: the workers leave records in each pair's trace ring, and this
// turns them into spans from ingress receive to the last egress completion.
import { SpanKind, type Tracer } from "@opentelemetry/api";
import { monotonicNs } from "../../c/sys.ts";
import { formatIpv4 } from "../../rules/ipv4.ts";
import type { Segment } from "../../shm/segment.ts";
import { TraceReader } from "../../shm/trace.ts";

export interface RuleInfo {
  id: string;
  name?: string;
  ifname: string;
}

/** CLOCK_MONOTONIC ns -> [epoch seconds, nanoseconds], as OpenTelemetry wants times. */
function epoch(monoNs: number, offsetNs: number): [number, number] {
  const t = monoNs + offsetNs;
  const s = Math.floor(t / 1e9);
  return [s, Math.round(t - s * 1e9)];
}

export class PacketSpans {
  private readers: TraceReader[] = [];
  private seg: Segment | null = null;
  private timer: Timer | null = null;
  exported = 0;

  constructor(private readonly tracer: Tracer, private readonly rules: () => Map<number, RuleInfo>) {}

  /** Follows a (new) segment; records written before this are not reported. */
  attach(seg: Segment): void {
    if (this.seg === seg) return;
    this.seg = seg;
    this.readers = seg.layout.pairs.map((pl) => new TraceReader(seg.buf, pl.traceRing, pl.traceStages));
  }

  start(intervalMs = 100): void {
    this.timer = setInterval(() => this.pump(), intervalMs);
  }

  get lost(): number {
    return this.readers.reduce((a, r) => a + r.lost, 0);
  }

  pump(): void {
    if (this.readers.length === 0) return;
    const offset = Date.now() * 1e6 - monotonicNs();
    const rules = this.rules();
    for (const r of this.readers) {
      for (const rec of r.read()) {
        const rule = rules.get(rec.rule);
        const span = this.tracer.startSpan("mcrelay.packet", {
          kind: SpanKind.INTERNAL,
          startTime: epoch(rec.rxNs, offset),
          attributes: {
            "mcrelay.rule.id": rule?.id ?? `#${rec.rule}`,
            "mcrelay.rule.name": rule?.name ?? rule?.id ?? `#${rec.rule}`,
            "mcrelay.input.interface": rule?.ifname ?? "",
            // An IPv6 packet's addresses do not fit the record (shm/trace.ts): the rule's input says them.
            ...(rec.family === 6 ? { "network.type": "ipv6" } : { "source.address": formatIpv4(rec.src), "destination.address": formatIpv4(rec.dst) }),
            "source.port": rec.sport,
            "destination.port": rec.dport,
            "mcrelay.packet.size": rec.size,
            "mcrelay.outputs": rec.outputs,
            "mcrelay.latency_ns": rec.doneNs - rec.rxNs,
            // where the time went: in the AF_PACKET ring before ingress took the frame, then from
            // there (the span's start) to egress taking its descriptor and submitting its sends
            "mcrelay.ring_wait_ns": rec.ringWaitNs ?? 0,
            "mcrelay.egress_take_ns": rec.takeNs ?? 0,
            "mcrelay.egress_submit_ns": rec.submitNs ?? 0,
          },
        });
        span.end(epoch(rec.doneNs, offset));
        this.exported++;
      }
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.pump();
  }
}
