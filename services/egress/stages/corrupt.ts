import type { StageParams } from "../../../rules/stages.ts";
import type { StageFactory } from "./stage.ts";

/** Flips every bit of one byte in every Nth packet: at `offset` if the packet is that long, else
 *  in its middle. Deterministic (a count, not a chance), so a receiver's handling of bad data can
 *  be tested exactly. The packet's checksum is computed afterwards (`modified`): what arrives is
 *  bad data under a good checksum, as from a faulty sender — never a frame the kernel discards. */
export const corrupt: StageFactory<StageParams<"corrupt">> = ({ every, offset }, ctx, next) => {
  let n = 0;
  return {
    push(slot) {
      if (++n === every) {
        n = 0;
        const len = ctx.len(slot);
        if (len > 0) {
          const at = offset !== undefined && offset < len ? offset : len >> 1;
          ctx.bytes[ctx.start(slot) + at] ^= 0xff;
          ctx.modified(slot);
        }
      }
      next(slot);
    },
  };
};
