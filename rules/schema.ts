// The rule schema: one zod definition serves the rules file, the supervisor, the REST API (and its
// OpenAPI document) and the CLI. Everything else about a rule is derived from these objects.
import { z } from "zod";
import { canonicalIp, ipFamily, isMulticastIp, isSsmGroup, isUsableUnicastIp } from "./ip.ts";
import { UDP, protocolName, protocolNumber, protocolSchema } from "./protocols.ts";

import { stageSchema } from "./stages.ts";
import { MAX_PATHS } from "../shm/layout.ts";

/** Linux accepts 1–15 bytes, not "." or "..", and no '/', ':' or white space (dev_valid_name). */
export const interfaceName = z
  .string()
  .min(1, "interface name is empty")
  .max(15, "interface name is longer than 15 characters (IFNAMSIZ)")
  .refine((s) => s !== "." && s !== ".." && !/[\/:\s]/.test(s) && /^[\x21-\x7e]+$/.test(s), {
    message: "not a valid Linux interface name",
  });

const port = z.number().int("port must be an integer").min(1, "port must be 1–65535").max(65535, "port must be 1–65535");

/** An IPv4 or IPv6 address in text that `ok` accepts. */
const address = (what: string, ok: (s: string) => boolean, why: string) =>
  z.string().refine(ok, { message: `${what} must be ${why}` });
const groupOrHost = (s: string) => isMulticastIp(s) || isUsableUnicastIp(s);

export const outputSchema = z.strictObject({
  interface: interfaceName,
  group: address("output group", groupOrHost, "a multicast or unicast IPv4 or IPv6 address"),
  /** UDP's destination port (a rule of another protocol has none) */
  port: port.optional(),
  /** TTL, or an IPv6 output's hop limit */
  ttl: z.number().int().min(1, "ttl must be 1–255").max(255, "ttl must be 1–255").default(16),
  /** the code point to set (IPv4 TOS, IPv6 traffic class), or "preserve" to copy the input packet's */
  dscp: z.union([z.number().int().min(0, "dscp must be 0–63").max(63, "dscp must be 0–63"), z.literal("preserve")], {
    error: 'dscp must be 0–63 or "preserve"',
  }).default(0),
  /** How the copies leave: "raw", frames built here and sent on a packet socket of the interface
   *  (multicast groups only: a unicast next hop needs the neighbour table); "socket", through the
   *  kernel's UDP stack. Absent: raw for a multicast group, socket for a unicast one. */
  send: z.enum(["socket", "raw"], { error: 'send must be "socket" or "raw"' }).optional(),
  /** false: send with the UDP checksum 0 ("none", allowed for IPv4 only), which saves summing each payload. */
  udpChecksum: z.boolean({ error: "udpChecksum must be true or false" }).optional(),
  /** true: consecutive datagrams of a send batch go out as one UDP GSO super-frame (raw IPv4
   *  multicast, checksums on), cut into datagrams by the interface or the kernel: less CPU per
   *  copy, but a capture on a veth's far end (or an interface with segmentation offload) sees
   *  the super-frame. docs/ARCHITECTURE.md, "GSO outputs". */
  gso: z.boolean({ error: "gso must be true or false" }).optional(),
});

const probability = (what: string) => z.number().min(0, `${what} must be 0–1`).max(1, `${what} must be 0–1`);

/** A synthetic network on the rule's path (every field optional); deterministic under a seed. */
export const impairmentSchema = z.strictObject({
  loss: probability("loss").optional(),
  duplicate: probability("duplicate").optional(),
  delayMs: z.number().min(0, "delayMs must be 0–10000").max(10_000, "delayMs must be 0–10000").optional(),
  jitterMs: z.number().min(0, "jitterMs must be 0–10000").max(10_000, "jitterMs must be 0–10000").optional(),
  reorder: probability("reorder").optional(),
  ratePps: z.number().positive("ratePps must be positive").optional(),
  rateBps: z.number().positive("rateBps must be positive").optional(),
  seed: z.number().int().min(0).max(4294967295, "seed must fit in 32 bits").optional(),
  /** named stages with their parameters (rules/stages.ts), run before the others */
  stages: z.array(stageSchema).max(16, "at most 16 stages").optional(),
});

/** The plain shapes (no cross-field checks) are what PATCH bodies are made of. */
export const inputObject = z.strictObject({
  interface: interfaceName,
  group: address("input group", groupOrHost, "a multicast or unicast IPv4 or IPv6 address"),
  /** UDP's destination port: required for UDP, none for another protocol */
  port: port.optional(),
  /** what the rule relays: UDP datagrams (the default), or another IP protocol's payloads whole
   *  (e.g. "esp", or a number), sent as that protocol to the outputs' addresses */
  protocol: protocolSchema.optional(),
  /** the (S,G) source filter: only this sender's packets, and a source-specific join (IGMPv3, MLDv2) */
  source: address("source", isUsableUnicastIp, "a unicast IPv4 or IPv6 address").optional(),
  /** 802.1Q VLAN id: the rule takes frames tagged with it only; without, untagged frames only */
  vlan: z.number().int("vlan must be an integer").min(1, "vlan must be 1–4094").max(4094, "vlan must be 1–4094").optional(),
});

export const inputSchema = inputObject
  .superRefine((i, ctx) => {
    const udp = protocolNumber(i.protocol) === UDP;
    if (udp && i.port === undefined) ctx.addIssue({ code: "custom", path: ["port"], message: "a UDP input needs a port" });
    if (!udp && i.port !== undefined) ctx.addIssue({ code: "custom", path: ["port"], message: `protocol ${protocolName(protocolNumber(i.protocol))} has no port (only UDP has one here)` });
    if (!groupOrHost(i.group)) return; // the group's own issue says it
    if (!isMulticastIp(i.group) && i.source === undefined) {
      ctx.addIssue({ code: "custom", path: ["group"], message: "a non-multicast input group needs a source" });
    } else if (isSsmGroup(i.group) && i.source === undefined) {
      ctx.addIssue({ code: "custom", path: ["source"], message: `${i.group} is a source-specific group (232.0.0.0/8, ff3x::/96): it needs a source` });
    }
    if (i.source !== undefined && isUsableUnicastIp(i.source) && ipFamily(i.source) !== ipFamily(i.group)) {
      ctx.addIssue({ code: "custom", path: ["source"],
        message: `source ${i.source} is IPv${ipFamily(i.source)} but group ${i.group} is IPv${ipFamily(i.group)}: a source filter is of its group's family` });
    }
  });

export const ruleId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "id must be 1–64 of A–Z a–z 0–9 . _ -");

/** A relay's name in a fleet (`mcrelay start --node`, default the host name): host-name-like, so
 *  that the default fits. */
export const nodeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "a node name is 1–64 of A–Z a–z 0–9 . _ -, starting with a letter or digit");

/** The `node` of a rule that runs on every node; a rule without `node` does too. */
export const EVERY_NODE = "*";

/** Which relay of a fleet runs a rule or a link. Absent means every node, as "*" does: those written
 *  before fleets existed, and everything of a one-host relay, keep running wherever they are. */
export const nodeField = (what: "rule" | "link") =>
  z.string().refine((s) => s === EVERY_NODE || nodeName.safeParse(s).success, { message: 'node must be "*" (every node) or a node name: 1–64 of A–Z a–z 0–9 . _ -, starting with a letter or digit' })
    .optional()
    .describe(`the node (relay) that runs the ${what}, or "*" (the default) for every node`);

/** Text people name things with: well-formed Unicode (no lone surrogates, which SQLite and JSON
 *  tools mangle into each other) and no control characters (NUL ends a C string; others break logs). */
export const displayName = (what: string, max: number) =>
  z.string()
    .min(1, `${what} is empty`)
    .max(max, `${what} is longer than ${max} characters`)
    .refine((s) => s.isWellFormed(), { message: `${what} is not well-formed Unicode (a lone surrogate)` })
    // eslint-disable-next-line no-control-regex
    .refine((s) => !/[\x00-\x1f\x7f-\x9f]/.test(s), { message: `${what} contains a control character` });
const ruleName = displayName("name", 128);
const outputs = z.array(outputSchema).min(1, "a rule needs at least one output").max(64, "a rule has at most 64 outputs");

/** Share of the rule's packets that become OpenTelemetry spans (0: none, the default). */
const traceSampleRatio = z.number().min(0, "traceSampleRatio must be 0–1").max(1, "traceSampleRatio must be 0–1");

/** The largest UDP payload (IPv4: 65,535 − 20 − 8): where a sequence number may be read at most. */
export const MAX_UDP_PAYLOAD = 65507;
/** The longest a gap may wait for another path (redundancy.windowMs): every packet after the gap waits as long. */
export const MAX_WINDOW_MS = 1000;

const windowFields = {
  /** how long a gap waits for another path to fill it (the packets after it wait with it); 0: never */
  windowMs: z.number().min(0, `windowMs must be 0–${MAX_WINDOW_MS}`).max(MAX_WINDOW_MS, `windowMs must be 0–${MAX_WINDOW_MS} (the most a packet may be delayed)`).default(10),
  /** the sequence numbers the merge tracks ahead of the next one due (and as many behind, for late
   *  copies): a fixed-size window per rule; a gap wider than it is given up at once */
  windowPackets: z.number().int("windowPackets must be an integer").min(16, "windowPackets must be 16–65536").max(65536, "windowPackets must be 16–65536").default(4096),
  /** a path that brought nothing for this long is silent (logged, and its metric 0) until it brings a packet again */
  silentMs: z.number().int("silentMs must be an integer").min(10, "silentMs must be 10–60000").max(60_000, "silentMs must be 10–60000").default(200),
};

/** Seamless redundancy: how a packet's sequence number is read, and how long a gap waits. */
export const redundancySchema = z.discriminatedUnion("mode", [
  z.strictObject({
    /** RTP (RFC 3550): the 16-bit sequence number of a version-2 header, the SSRC the same on every path */
    mode: z.literal("rtp"),
    ...windowFields,
  }),
  z.strictObject({
    /** a sequence number at a fixed offset of the UDP payload (market-data feeds) */
    mode: z.literal("sequence"),
    offset: z.number().int("offset must be an integer").min(0, "offset must be 0 or more"),
    width: z.union([z.literal(4), z.literal(8)], { error: "width must be 4 or 8 (bytes)" }),
    byteOrder: z.enum(["big", "little"], { error: 'byteOrder must be "big" or "little"' }).default("big"),
    ...windowFields,
  }).superRefine((s, ctx) => {
    if (s.offset + s.width > MAX_UDP_PAYLOAD) {
      ctx.addIssue({ code: "custom", path: ["offset"], message: `offset ${s.offset} + width ${s.width} is beyond the largest UDP payload (${MAX_UDP_PAYLOAD} bytes)` });
    }
  }),
], { error: 'redundancy.mode must be "rtp" or "sequence"' });

/** A rule's fields: the one place they are listed. The stored and presented forms extend it. */
export const ruleObject = z.strictObject({
  id: ruleId.optional(),
  name: ruleName.optional(),
  /** the one input (a rule has this or `inputs`) */
  input: inputSchema.optional(),
  /** 2–4 inputs carrying one stream (with `redundancy`): each sequence number is forwarded once */
  inputs: z.array(inputSchema).min(2, "inputs needs 2–4 inputs (one input is `input`)").max(MAX_PATHS, `inputs has at most ${MAX_PATHS} inputs`).optional(),
  redundancy: redundancySchema.optional(),
  outputs,
  traceSampleRatio: traceSampleRatio.default(0),
  impairment: impairmentSchema.optional(),
  node: nodeField("rule"),
});

/** A rule as written in a rules file or a request body, with the checks across its fields. */
export const ruleSchema = ruleObject
  .superRefine((r, ctx) => {
    if (r.input !== undefined && r.inputs !== undefined) {
      ctx.addIssue({ code: "custom", path: ["inputs"], message: "a rule has input or inputs, not both" });
      return;
    }
    if (r.input === undefined && r.inputs === undefined) {
      ctx.addIssue({ code: "custom", path: ["input"], message: "a rule needs an input (or 2–4 inputs with redundancy)" });
      return;
    }
    if (r.inputs !== undefined && r.redundancy === undefined) {
      ctx.addIssue({ code: "custom", path: ["redundancy"], message: 'a rule with inputs needs redundancy (e.g. {"mode": "rtp"}): how copies of one packet are told apart' });
    }
    if (r.input !== undefined && r.redundancy !== undefined) {
      ctx.addIssue({ code: "custom", path: ["redundancy"], message: "redundancy merges inputs: give 2–4 inputs instead of input" });
    }
    const all = ruleInputs(r);
    if (r.inputs !== undefined) {
      const family = ipFamily(r.inputs[0]!.group);
      const seen = new Map<string, number>();
      r.inputs.forEach((inp, i) => {
        if (protocolNumber(inp.protocol) !== UDP) ctx.addIssue({ code: "custom", path: ["inputs", i, "protocol"], message: "a redundant rule's inputs are UDP (its sequence numbers are in UDP payloads)" });
        if (i > 0 && family !== 0 && ipFamily(inp.group) !== 0 && ipFamily(inp.group) !== family) {
          ctx.addIssue({ code: "custom", path: ["inputs", i, "group"], message: `inputs[${i}] is IPv${ipFamily(inp.group)} but inputs[0] is IPv${family}: a redundant rule's inputs are of one family` });
        }
        const k = `${inp.interface}|${inp.vlan ?? 0}|${canonicalIp(inp.group)}|${inp.port}|${inp.source ? canonicalIp(inp.source) : ""}`;
        if (seen.has(k)) ctx.addIssue({ code: "custom", path: ["inputs", i], message: `inputs[${i}] is the same input as inputs[${seen.get(k)}]` });
        else seen.set(k, i);
      });
    }
    const first = all[0]!;
    const udp = protocolNumber(first.protocol) === UDP;
    r.outputs.forEach((o, i) => {
      if (all.some((inp) => o.interface === inp.interface && canonicalIp(o.group) === canonicalIp(inp.group) && o.port === inp.port && inp.vlan === undefined)) {
        ctx.addIssue({ code: "custom", path: ["outputs", i], message: "output equals the input (it would loop)" });
      }
      if (udp && o.port === undefined) ctx.addIssue({ code: "custom", path: ["outputs", i, "port"], message: "an output of a UDP rule needs a port" });
      if (!udp) {
        // Another protocol goes out as itself, by a raw IP socket: no port, no UDP header to build.
        const [field, why] = o.port !== undefined ? ["port", "has no port"] : o.send === "raw" ? ["send", 'is sent by a raw IP socket: send "raw" builds UDP frames']
          : o.udpChecksum !== undefined ? ["udpChecksum", "has no UDP checksum"] : [];
        if (field) ctx.addIssue({ code: "custom", path: ["outputs", i, field], message: `an output of a protocol ${protocolName(protocolNumber(first.protocol))} rule ${why}` });
      }
      if (o.send === "raw" && !isMulticastIp(o.group)) {
        ctx.addIssue({ code: "custom", path: ["outputs", i, "send"],
          message: 'send "raw" needs a multicast group (a unicast output would need neighbour resolution): use "socket"' });
      }
      if (o.gso === true) {
        const [field, why] = !udp ? ["gso", "needs a UDP rule"] : o.send === "socket" ? ["send", 'gso needs send "raw" (frames built here)']
          : !isMulticastIp(o.group) || ipFamily(o.group) !== 4 ? ["gso", "needs an IPv4 multicast group"]
          : o.udpChecksum === false ? ["udpChecksum", "gso needs the UDP checksum (the segments' checksums are computed from it)"] : [];
        if (field) ctx.addIssue({ code: "custom", path: ["outputs", i, field], message: field === "gso" ? `gso ${why}` : why! });
      }
      if (o.udpChecksum === false && ipFamily(o.group) === 6) {
        ctx.addIssue({ code: "custom", path: ["outputs", i, "udpChecksum"], message: "UDP over IPv6 must carry a checksum (RFC 8200): udpChecksum false is IPv4 only" });
      }
    });
  })
  .meta({ id: "Rule" });

export type Input = z.infer<typeof inputSchema>;

/** A rule's inputs in order: its one input, or its redundant inputs (path 0, 1, …). */
export function ruleInputs(r: { input?: Input; inputs?: Input[] }): Input[] {
  return r.inputs ?? (r.input ? [r.input] : []);
}

/** The input a rule is known by: its one input, or the first of its inputs. */
export function firstInput(r: { input?: Input; inputs?: Input[] }): Input {
  return (r.input ?? r.inputs?.[0])!;
}

/** PATCH: the fields given replace the stored ones (input field by field, inputs and outputs whole). */
export const rulePatchSchema = ruleObject
  .partial()
  .extend({ input: inputObject.partial().optional(), traceSampleRatio: traceSampleRatio.optional() })
  .meta({ id: "RulePatch" });

export type Rule = z.infer<typeof ruleSchema>;
export type RuleInput = z.input<typeof ruleSchema>;
export type Output = z.infer<typeof outputSchema>;
export type RulePatch = z.infer<typeof rulePatchSchema>;
export type Impairment = z.infer<typeof impairmentSchema>;
export type Redundancy = z.infer<typeof redundancySchema>;
