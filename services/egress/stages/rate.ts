import type { StageFactory } from "./stage.ts";

/**
 * Polices to at most pps packets and bps bits per second (token buckets). Packets arrive in
 * bursts (a ring block, an egress batch), so the buckets hold 100 ms of tokens: smaller ones
 * overflow between bursts and the rate falls short. They start empty: no burst at the start.
 */
export const rate: StageFactory<{ pps?: number; bps?: number }> = ({ pps, bps }, ctx, next) => {
  const burstS = 0.1;
  const pCap = pps ? Math.max(1, pps * burstS) : 0;
  const bCap = bps ? Math.max(12_000 * 8, bps * burstS) : 0;
  let pTokens = 0;
  let bTokens = 0;
  let last = ctx.now();
  return {
    push(slot) {
      const now = ctx.now();
      const dt = (now - last) / 1000;
      last = now;
      if (pps) pTokens = Math.min(pCap, pTokens + pps * dt);
      if (bps) bTokens = Math.min(bCap, bTokens + bps * dt);
      const bits = 8 * ctx.len(slot);
      if ((pps && pTokens < 1) || (bps && bTokens < bits)) return ctx.drop(slot);
      if (pps) pTokens -= 1;
      if (bps) bTokens -= bits;
      next(slot);
    },
  };
};
