// The named stages a rule's or link's impairment may run, and each one's parameters: the one
// place a stage's parameters are defined (services/egress/stages/registry.ts maps the same names
// to their code, and the type system keeps the two lists equal). Only zod here: the schema of a
// rule needs no egress code.
import { z } from "zod";

const every = z.number().int("every must be an integer").min(1, "every must be 1 or more");

export const STAGE_PARAMS = {
  /** drops every packet (or frame) of odd length: the example of docs/STAGES.md */
  "drop-odd-size": z.strictObject({}),
  /** flips one byte of every Nth packet (frame): at `offset` into it, or in its middle */
  corrupt: z.strictObject({ every, offset: z.number().int().min(0, "offset must be 0 or more").optional() }),
  /** drops TCP SYNs that open a connection (SYN without ACK): a link where nothing can connect */
  "drop-tcp-syn": z.strictObject({}),
} as const;

export type StageName = keyof typeof STAGE_PARAMS;
export const STAGE_NAMES = Object.keys(STAGE_PARAMS) as [StageName, ...StageName[]];
export type StageParams<N extends StageName> = z.infer<(typeof STAGE_PARAMS)[N]>;

const withParams = STAGE_NAMES.map((n) => z.strictObject({ name: z.literal(n), ...STAGE_PARAMS[n].shape }));

/** A stage by name (no parameters) or as {"name": …, parameters…}. */
export const stageSchema = z.union([
  z.enum(STAGE_NAMES, { error: `a stage is one of ${STAGE_NAMES.join(", ")}` }),
  z.discriminatedUnion("name", withParams as unknown as [typeof withParams[number], ...typeof withParams[number][]], { error: `a stage's name is one of ${STAGE_NAMES.join(", ")}` }),
]);

export type Stage = z.infer<typeof stageSchema>;

/** The stage's name and parameters, whichever way it was written. */
export function stageOf(s: Stage): { name: StageName; params: Record<string, unknown> } {
  if (typeof s === "string") return { name: s, params: {} };
  const { name, ...params } = s;
  return { name, params };
}
