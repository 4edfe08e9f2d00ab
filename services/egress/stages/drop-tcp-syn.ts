import type { StageParams } from "../../../rules/stages.ts";
import { tcpFlags, TCP_ACK, TCP_SYN } from "./frame.ts";
import type { StageFactory } from "./stage.ts";

/** Drops the SYN that opens a TCP connection (SYN without ACK): on a link, nothing can connect
 *  the way this stage sits, while established connections and everything else go on. A rule's
 *  packets are UDP payloads: it passes them all. */
export const dropTcpSyn: StageFactory<StageParams<"drop-tcp-syn">> = (_params, ctx, next) => ({
  push(slot) {
    const f = ctx.frames ? tcpFlags(ctx.bytes, ctx.start(slot), ctx.len(slot)) : -1;
    if (f >= 0 && (f & (TCP_SYN | TCP_ACK)) === TCP_SYN) ctx.drop(slot);
    else next(slot);
  },
});
