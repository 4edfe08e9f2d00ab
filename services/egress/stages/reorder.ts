import type { StageFactory } from "./stage.ts";

/** With probability p a packet is held back and sent right after the next one (swapping the two). */
export const reorder: StageFactory<number> = (p, ctx, next) => {
  let waiting = -1;
  let since = 0;
  return {
    push(slot) {
      if (waiting >= 0) {
        next(slot);
        next(waiting);
        waiting = -1;
      } else if (ctx.random() < p) {
        waiting = slot;
        since = ctx.now();
      } else next(slot);
    },
    // A held packet does not wait for ever when no next packet comes.
    pull(now) {
      if (waiting >= 0 && now - since >= 100) {
        next(waiting);
        waiting = -1;
      }
    },
    due: () => (waiting >= 0 ? since + 100 : Infinity),
    held: () => (waiting >= 0 ? [waiting] : []),
  };
};
