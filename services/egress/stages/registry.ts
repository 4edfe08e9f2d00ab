// The stages a rule's impairment can use, and how a rule's pipeline is put together.
import type { Impairment } from "../../../rules/schema.ts";
import { stageOf, type StageName, type StageParams } from "../../../rules/stages.ts";
import { corrupt } from "./corrupt.ts";
import { dropTcpSyn } from "./drop-tcp-syn.ts";
import { delay } from "./delay.ts";
import { dropOddSize } from "./drop-odd-size.ts";
import { duplicate } from "./duplicate.ts";
import { loss } from "./loss.ts";
import { rate } from "./rate.ts";
import { reorder } from "./reorder.ts";
import { shape } from "./shape.ts";
import type { Stage, StageContext, StageFactory } from "./stage.ts";

/** Stages an impairment may name in `stages` (run first), by the names and parameters
 *  rules/stages.ts defines: the type makes a name without a stage, a stage without a name, or
 *  parameters that differ a compile error. */
export const NAMED_STAGES: { [N in StageName]: StageFactory<StageParams<N>> } = {
  "drop-odd-size": dropOddSize,
  corrupt,
  "drop-tcp-syn": dropTcpSyn,
};

/** Most packets one rule may hold (delay, reorder) at once; beyond that they are dropped. */
export const HOLD_LIMIT = 4096;

/** A link's rate limit queues this long of traffic at its rate before it drops (a router's buffer). */
export const LINK_QUEUE_MS = 50;

/** Named stages, then rate → loss → duplicate → reorder → delay, ending in sink. A rule's rate
 *  polices (drops what exceeds it); a link's shapes (queues, then drops), as a bottleneck link does. */
export function buildPipeline(imp: Impairment, ctx: StageContext, sink: (slot: number) => void, o: { shape?: boolean } = {}): { head: (slot: number) => void; stages: Stage[] } {
  const plan: [StageFactory, unknown][] = [];
  for (const s of imp.stages ?? []) {
    const { name, params } = stageOf(s);
    plan.push([NAMED_STAGES[name] as StageFactory, params]);
  }
  if ((imp.ratePps || imp.rateBps) && o.shape) plan.push([shape, { pps: imp.ratePps, bps: imp.rateBps, queueMs: LINK_QUEUE_MS, limit: HOLD_LIMIT }]);
  else if (imp.ratePps || imp.rateBps) plan.push([rate, { pps: imp.ratePps, bps: imp.rateBps }]);
  if (imp.loss) plan.push([loss, imp.loss]);
  if (imp.duplicate) plan.push([duplicate, imp.duplicate]);
  if (imp.reorder) plan.push([reorder, imp.reorder]);
  if (imp.delayMs || imp.jitterMs) plan.push([delay, { delayMs: imp.delayMs ?? 0, jitterMs: imp.jitterMs ?? 0, limit: HOLD_LIMIT }]);
  const stages: Stage[] = [];
  let next = sink;
  for (let i = plan.length - 1; i >= 0; i--) {
    const s = plan[i][0](plan[i][1], ctx, next);
    stages.unshift(s);
    next = (slot) => s.push(slot);
  }
  return { head: next, stages };
}
