// `mcrelay capture ID`: the next packets of a rule (or with --link, a link) as a pcap, written to
// FILE (-w) or to stdout for a pipe (`mcrelay capture feed | tcpdump -r -`), from the API's
// GET /api/v1/{rules,links}/{id}/capture. The query's fields are the API's (one schema).
import { createWriteStream } from "node:fs";
import { Writable } from "node:stream";
import { captureQuerySchema, CAPTURE_DIRECTIONS } from "../services/protocol/capture.ts";
import { CliError, UsageError } from "./errors.ts";
import { connect, parse } from "./options.ts";

export const CAPTURE_USAGE = `usage: mcrelay capture ID [--link] [--count N] [--seconds S] [--direction ${CAPTURE_DIRECTIONS.join("|")}] [-w FILE]
  A pcap of the rule's (--link: the link's) next N packets (default 100), for at most S seconds
  (default 10): received, as they arrived on its input (a link: at its ends); sent, as the relay
  sent them on its outputs' interfaces; or both. To FILE with -w, else to stdout (not a terminal):
  mcrelay capture feed -w feed.pcap; mcrelay capture feed --count 10 | tcpdump -nr -`;

export async function capture(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    link: { type: "boolean", default: false }, count: { type: "string" }, seconds: { type: "string" },
    direction: { type: "string" }, write: { type: "string", short: "w" },
  });
  if (positionals.length !== 1) throw new UsageError("one rule (or --link: link) ID is needed");
  const q = captureQuerySchema.safeParse({ count: v.count, seconds: v.seconds, direction: v.direction });
  if (!q.success) throw new UsageError(q.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("; "));
  if (!v.write && process.stdout.isTTY) throw new UsageError("a pcap is not for a terminal: -w FILE, or pipe it (| tcpdump -r -)");
  const query = new URLSearchParams({ count: String(q.data.count), seconds: String(q.data.seconds), direction: q.data.direction });
  const res = await connect(v).stream(`/api/v1/${v.link ? "links" : "rules"}/${encodeURIComponent(positionals[0]!)}/capture?${query}`);
  if (!res.body) throw new CliError("the API answered without a body");
  const sink = v.write ? createWriteStream(v.write) : process.stdout;
  await res.body.pipeTo(Writable.toWeb(sink) as WritableStream<Uint8Array>);
  return 0;
}
