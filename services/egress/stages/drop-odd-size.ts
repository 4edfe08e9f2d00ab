import type { StageParams } from "../../../rules/stages.ts";
import type { StageFactory } from "./stage.ts";

/** The example of docs/STAGES.md: drops every packet whose payload has an odd length. */
export const dropOddSize: StageFactory<StageParams<"drop-odd-size">> = (_params, ctx, next) => ({
  push(slot) {
    if (ctx.len(slot) % 2 === 1) ctx.drop(slot);
    else next(slot);
  },
});
