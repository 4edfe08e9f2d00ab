import type { StageFactory } from "./stage.ts";

/** Drops each packet with probability p. */
export const loss: StageFactory<number> = (p, ctx, next) => ({
  push(slot) {
    if (ctx.random() < p) ctx.drop(slot);
    else next(slot);
  },
});
