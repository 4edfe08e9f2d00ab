// A link: every frame received on interface `a` leaves on `b` and every frame received on `b`
// leaves on `a`, through each direction's impairment, or a flow's when the frame matches one
// (first match wins). The one place a link's fields are listed; the stored and presented forms
// extend it, and the file, the API, the OpenAPI document and the CLI take it from here.
import { z } from "zod";
import { parseCidr } from "./cidr.ts";
import { protocolSchema } from "./protocols.ts";
import { displayName, impairmentSchema, interfaceName, nodeField, ruleId } from "./schema.ts";

const ports = z.string().refine((s) => {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
  if (!m) return false;
  const lo = Number(m[1]), hi = Number(m[2] ?? m[1]);
  return lo <= hi && hi <= 65535;
}, { message: 'ports must be "N" or "N-M" with 0 ≤ N ≤ M ≤ 65535' });

/** What a frame must have to be in a flow; every field optional, all given must hold. */
export const flowMatchSchema = z.strictObject({
  /** a prefix that the frame's source or destination address is in (IPv4 or IPv6) */
  address: z.string().refine((s) => parseCidr(s) !== null, { message: 'address must be an IPv4 or IPv6 prefix, e.g. "10.0.0.0/8" or "2001:db8::/32"' }).optional(),
  protocol: protocolSchema.optional(),
  /** the source or the destination port is in this range (TCP, UDP, SCTP, UDP-Lite) */
  ports: ports.optional(),
});

export const flowSchema = z.strictObject({
  name: displayName("flow name", 64),
  match: flowMatchSchema,
  /** what the flow's frames meet going a → b; the link's aToB fields it does not set still apply */
  aToB: impairmentSchema.optional(),
  bToA: impairmentSchema.optional(),
});

/** The most flows a link may have (each direction of each is a counter row and a pipeline). */
export const MAX_FLOWS = 32;

export const linkObject = z.strictObject({
  id: ruleId.optional(),
  name: displayName("name", 128).optional(),
  a: interfaceName,
  b: interfaceName,
  /** frames received on a, sent on b */
  aToB: impairmentSchema.optional(),
  /** frames received on b, sent on a */
  bToA: impairmentSchema.optional(),
  /** tried in order for each frame; the first that matches decides (else the link's own settings) */
  flows: z.array(flowSchema).max(MAX_FLOWS, `a link has at most ${MAX_FLOWS} flows`).optional(),
  /** the relay of a fleet whose interfaces a and b are: as a rule's node */
  node: nodeField("link"),
});

export const linkSchema = linkObject
  .superRefine((l, ctx) => {
    if (l.a === l.b) ctx.addIssue({ code: "custom", path: ["b"], message: "b must be another interface than a" });
    const seen = new Set<string>();
    (l.flows ?? []).forEach((f, i) => {
      if (seen.has(f.name)) ctx.addIssue({ code: "custom", path: ["flows", i, "name"], message: `two flows are named "${f.name}"` });
      seen.add(f.name);
    });
  })
  .meta({ id: "Link" });

/** PATCH: the fields given replace the stored ones (flows whole). */
export const linkPatchSchema = linkObject.partial().meta({ id: "LinkPatch" });

export type Link = z.infer<typeof linkSchema>;
export type Flow = z.infer<typeof flowSchema>;
export type FlowMatch = z.infer<typeof flowMatchSchema>;

/** The directions of a link, as the config names them. */
export const DIRECTIONS = ["aToB", "bToA"] as const;
export type Direction = (typeof DIRECTIONS)[number];
