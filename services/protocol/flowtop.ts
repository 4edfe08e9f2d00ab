// GET /api/v1/flows/top: the busiest 5-tuples the links carry now, with the flow entry each
// matched (what `mcrelay links top` and the dashboard show).
import { z } from "zod";
import { DIRECTIONS } from "../../rules/link.ts";

export const flowTopEntrySchema = z.strictObject({
  link: z.string().describe("the link's name, or its id"),
  linkId: z.string(),
  direction: z.enum(DIRECTIONS),
  flow: z.string().nullable().describe("the flow entry it matched, null: none (the direction's own settings)"),
  protocol: z.string().describe('"tcp", "udp", "icmp", "icmpv6", an IP protocol number, or for a frame that is not IP its ethertype ("arp", "0x88cc")'),
  src: z.string().describe("source address ('' when not IP)"),
  dst: z.string(),
  sport: z.number().int().nullable(),
  dport: z.number().int().nullable(),
  pps: z.number().describe("frames per second over the window"),
  bps: z.number().describe("bits per second over the window"),
  frames: z.number().describe("frames counted since the entry was made"),
  bytes: z.number(),
}).meta({ id: "FlowTopEntry" });

export const flowTopSchema = z.strictObject({
  windowSeconds: z.number(),
  flows: z.array(flowTopEntrySchema).describe("busiest first (by bits per second)"),
}).meta({ id: "FlowTop" });

export type FlowTopBody = z.infer<typeof flowTopSchema>;
export type FlowTopEntry = z.infer<typeof flowTopEntrySchema>;
