// OpenTelemetry, configured only by the standard variables: OTEL_EXPORTER_OTLP_ENDPOINT (or
// _TRACES_ENDPOINT), OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf, the default, or http/json),
// OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*. Without an endpoint nothing is exported.
import { trace, type Tracer } from "@opentelemetry/api";
import { detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

export interface Tracing {
  enabled: boolean;
  tracer: Tracer;
  shutdown(): Promise<void>;
}

export async function setupTracing(): Promise<Tracing> {
  const endpoint = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint || process.env.OTEL_TRACES_EXPORTER === "none") {
    return { enabled: false, tracer: trace.getTracer("mcrelay"), shutdown: async () => {} };
  }
  const protocol = process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf";
  let exporter: SpanExporter;
  if (protocol === "http/json") exporter = new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter();
  else if (protocol === "http/protobuf") exporter = new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter();
  else throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported (http/protobuf or http/json)`);
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: "mcrelay" }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  return { enabled: true, tracer: trace.getTracer("mcrelay"), shutdown: () => provider.shutdown() };
}
