import type { StageFactory } from "./stage.ts";

/**
 * Holds each packet for delayMs ± jitterMs (uniform), then sends it; jitter can reorder, as on
 * a real path. Held slots stay in the pool, at most `limit` of them (beyond that: dropped).
 * A binary heap by due time, in typed arrays: no allocation per packet.
 */
export const delay: StageFactory<{ delayMs: number; jitterMs: number; limit: number }> = ({ delayMs, jitterMs, limit }, ctx, next) => {
  const due = new Float64Array(limit);
  const slots = new Int32Array(limit);
  const order = new Float64Array(limit); // arrival order breaks ties, so equal times keep FIFO
  let n = 0;
  let seq = 0;
  const less = (i: number, j: number) => due[i] < due[j] || (due[i] === due[j] && order[i] < order[j]);
  const swap = (i: number, j: number) => {
    [due[i], due[j]] = [due[j], due[i]];
    [slots[i], slots[j]] = [slots[j], slots[i]];
    [order[i], order[j]] = [order[j], order[i]];
  };
  return {
    push(slot) {
      if (n === limit) return ctx.drop(slot);
      const d = Math.max(0, delayMs + (jitterMs ? (2 * ctx.random() - 1) * jitterMs : 0));
      let i = n++;
      due[i] = ctx.now() + d;
      slots[i] = slot;
      order[i] = seq++;
      while (i > 0 && less(i, (i - 1) >> 1)) {
        swap(i, (i - 1) >> 1);
        i = (i - 1) >> 1;
      }
    },
    pull(now) {
      while (n > 0 && due[0] <= now) {
        const slot = slots[0];
        n--;
        if (n > 0) {
          due[0] = due[n];
          slots[0] = slots[n];
          order[0] = order[n];
          for (let i = 0; ; ) {
            const l = 2 * i + 1;
            const r = l + 1;
            let m = i;
            if (l < n && less(l, m)) m = l;
            if (r < n && less(r, m)) m = r;
            if (m === i) break;
            swap(i, m);
            i = m;
          }
        }
        next(slot);
      }
    },
    due: () => (n > 0 ? due[0] : Infinity),
    held: () => Array.from(slots.subarray(0, n)),
  };
};
