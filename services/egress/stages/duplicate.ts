import type { StageFactory } from "./stage.ts";

/** Sends each packet a second time with probability p. */
export const duplicate: StageFactory<number> = (p, ctx, next) => ({
  push(slot) {
    if (ctx.random() < p) ctx.duplicate(slot);
    next(slot);
  },
});
