// GET /api/v1/rules/{id}/capture and /api/v1/links/{id}/capture: the next packets of one rule or
// link as a pcap stream (tcpdump -r, Wireshark). The supervisor starts the capture and names a
// FIFO; this streams it to the client as the packets come, and the capture ends when the count
// or the seconds are reached, or when the client goes away.
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { captureQuerySchema, type CaptureQuery } from "../../protocol/capture.ts";
import type { Noun } from "../store/collection.ts";
import { error, errorSchema } from "../errors.ts";
import { authErrors, bodyErrors, idParam, json, secured } from "../openapi.ts";

export interface CaptureDeps {
  /** the stored rule or link exists */
  exists(kind: Noun, id: string): Promise<boolean>;
  /** starts a capture on this node's data plane: the FIFO to read, or why not */
  capture(kind: Noun, id: string, q: CaptureQuery): Promise<{ fifo: string } | { refused: string } | null>;
  /** the client left: the capture ends (a read of an idle FIFO cannot be cancelled from here) */
  captureStop(fifo: string): Promise<void>;
}

const PCAP = "application/vnd.tcpdump.pcap";

export function mountCapture(app: OpenAPIHono, d: CaptureDeps): void {
  for (const [kind, path] of [["rule", "/api/v1/rules/{id}/capture"], ["link", "/api/v1/links/{id}/capture"]] as const) {
    app.openapi(createRoute({ method: "get", path, operationId: kind === "rule" ? "captureRule" : "captureLink", ...secured,
      summary: `A pcap of the ${kind}'s next packets, streamed as they come`,
      description: kind === "rule"
        ? "received: the frames of the rule's input as they arrived; sent: the frames the relay sent for it on its outputs' interfaces. " +
          "The capture reads copies the kernel makes for it: the relay's own path is not slowed or changed."
        : "received: every frame arriving at the link's ends; sent: every frame the relay sent out of them.",
      request: { params: idParam, query: captureQuerySchema },
      responses: {
        200: { content: { [PCAP]: { schema: z.string().openapi({ format: "binary" }) } }, description: "pcap (nanosecond time stamps, Ethernet), until count packets or seconds" },
        ...authErrors, 404: json(errorSchema, `no such ${kind}`), 409: json(errorSchema, `the ${kind} does not forward on this node now (it waits, is down, runs on another node), or too many captures run`),
        422: bodyErrors[422], 503: json(errorSchema, "the supervisor is unreachable, or the store (PostgreSQL)"),
      } }),
    async (c) => {
      const { id } = c.req.valid("param");
      const q = c.req.valid("query");
      if (!(await d.exists(kind, id))) return c.json(error(`no such ${kind}: ${id}`), 404);
      const r = await d.capture(kind, id, q);
      if (r === null) return c.json(error("the supervisor is unreachable"), 503);
      if ("refused" in r) return c.json(error(r.refused), 409);
      // A capture may wait long for its packets: no idle timeout for this response.
      (c.env as { timeout?: (req: Request, s: number) => void } | undefined)?.timeout?.(c.req.raw, 0);
      const file = createReadStream(r.fifo);
      c.req.raw.signal.addEventListener("abort", () => {
        void d.captureStop(r.fifo); // its end closes the FIFO, which ends the read below
        file.destroy();
      });
      return new Response(Readable.toWeb(file) as ReadableStream, {
        status: 200, headers: { "content-type": PCAP, "content-disposition": `attachment; filename="${kind}-${id.replace(/[^\w.-]/g, "_")}.pcap"` },
      }) as never;
    });
  }
}
