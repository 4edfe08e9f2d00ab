import type { StageFactory } from "./stage.ts";

/**
 * Shapes to at most pps packets and bps bits per second, as a link's bottleneck does: what the
 * tokens do not cover waits in a FIFO (bounded by queueMs of traffic at the rate, then tail-drop)
 * and leaves as tokens come in. A TCP flow through it settles at the rate instead of the
 * sawtooth a policer (rate.ts) leaves it. Tokens cap at a small burst, so bursts are smoothed.
 */
export const shape: StageFactory<{ pps?: number; bps?: number; queueMs: number; limit: number }> = ({ pps, bps, queueMs, limit }, ctx, next) => {
  const slots = new Int32Array(limit);
  const sizes = new Float64Array(limit);
  let head = 0;
  let n = 0;
  let queuedBits = 0;
  const maxBits = bps ? (bps * queueMs) / 1000 : Infinity;
  const maxPkts = pps ? Math.max(1, Math.floor((pps * queueMs) / 1000)) : limit;
  // 10 ms (at least a full-size frame) when idle.
  const burstS = 0.01;
  const pCap = pps ? Math.max(1, pps * burstS) : 0;
  const bCap = bps ? Math.max(1514 * 8, bps * burstS) : 0;
  let pTokens = pCap;
  let bTokens = bCap;
  let last = ctx.now();
  // Idle, tokens cap at the burst. Backlogged, the line was waiting on this loop, not idle: an
  // egress that wakes late (a loaded host) may then send what should have left meanwhile, up to
  // what is queued, so the rate holds however late the wake-up; it never bursts past the backlog.
  const refill = (now: number) => {
    const dt = (now - last) / 1000;
    last = now;
    if (pps) pTokens = Math.min(n > 0 ? Math.max(pCap, n) : pCap, pTokens + pps * dt);
    if (bps) bTokens = Math.min(n > 0 ? Math.max(bCap, queuedBits) : bCap, bTokens + bps * dt);
  };
  // A frame bigger than the bucket (a 64 KiB super-frame) goes once the bucket is full and leaves
  // it in debt: it still takes its time on the wire.
  const fits = (bits: number) => (!pps || pTokens >= 1) && (!bps || bTokens >= Math.min(bits, bCap));
  const spend = (bits: number) => {
    if (pps) pTokens -= 1;
    if (bps) bTokens -= bits;
  };
  return {
    push(slot) {
      refill(ctx.now());
      const bits = 8 * ctx.len(slot);
      if (n === 0 && fits(bits)) {
        spend(bits);
        return next(slot);
      }
      if (n === limit || n >= maxPkts || (n > 0 && queuedBits + bits > maxBits)) return ctx.drop(slot);
      const i = (head + n) % limit;
      slots[i] = slot;
      sizes[i] = bits;
      n++;
      queuedBits += bits;
    },
    pull(now) {
      refill(now);
      while (n > 0 && fits(sizes[head])) {
        const bits = sizes[head];
        spend(bits);
        const slot = slots[head];
        head = (head + 1) % limit;
        n--;
        queuedBits -= bits;
        next(slot);
      }
    },
    due() {
      if (n === 0) return Infinity;
      const bits = sizes[head];
      const waitP = pps && pTokens < 1 ? (1 - pTokens) / pps : 0;
      const need = Math.min(bits, bCap);
      const waitB = bps && bTokens < need ? (need - bTokens) / bps : 0;
      return last + Math.max(waitP, waitB) * 1000;
    },
    held: () => Array.from({ length: n }, (_, k) => slots[(head + k) % limit]),
  };
};
