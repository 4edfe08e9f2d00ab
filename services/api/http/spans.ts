// Every request is a span (exported when OTLP is configured); a change names its rule or link. The
// span rides on the request itself (no async context manager is needed).
import { SpanKind, SpanStatusCode, type Span, type Tracer } from "@opentelemetry/api";
import type { Context, MiddlewareHandler } from "hono";

const spans = new WeakMap<Request, Span>();

/** The route as a template, so ids do not make every span name distinct. */
const route = (path: string) => path.replace(/^\/api\/v1\/(rules|links)\/[^/]+$/, "/api/v1/$1/{id}");

export function requestSpans(tracer: Tracer): MiddlewareHandler {
  return async (c, next) => {
    const span = tracer.startSpan(`${c.req.method} ${route(c.req.path)}`, {
      kind: SpanKind.SERVER, attributes: { "http.request.method": c.req.method, "url.path": c.req.path },
    });
    spans.set(c.req.raw, span);
    try {
      await next();
      span.setAttribute("http.response.status_code", c.res.status);
      if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    } finally {
      span.end();
    }
  };
}

/** Puts the rule or link a request is about on its span (attribute mcrelay.rule.id, mcrelay.link.id). */
export function tagId(c: Context, attribute: string, id: string): void {
  spans.get(c.req.raw)?.setAttribute(attribute, id);
}
