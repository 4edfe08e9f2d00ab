// Seamless redundancy (SMPTE ST 2022-7; A/B arbitration of market-data feeds): one stream arrives
// on 2–4 paths, and each sequence number leaves once, in order. The first copy of a number goes on
// at once when it is the one due; one that comes after a gap waits (at most windowMs) for another
// path to fill the gap, and later copies are dropped and counted. A fixed window per rule: typed
// arrays of 2 × windowPackets entries (windowPackets ahead of the next number due, held; as many
// behind it, remembered to tell a duplicate from a late packet). A number is settled windowMs after
// it went out (or was given up): a path whose copy had not come by then missed it, and that is
// counted (repaired when another path brought it, lost when none did); a copy after that is late.
// Nothing is allocated per packet; a path's state change is logged (not per packet).
import type { Redundancy } from "../../../rules/schema.ts";
import { indexOf } from "../../../shm/counters.ts";
import { PATH_COUNTERS } from "../../../shm/layout.ts";
import type { Stage } from "./stage.ts";

const PC = indexOf(PATH_COUNTERS);
const NPC = PATH_COUNTERS.length;

/** Why the merge drops a packet (each is a drop reason of shm/layout.ts). */
export type MergeDrop = "redundant_copy" | "redundant_late" | "no_sequence";

export interface MergeContext {
  /** every slot's bytes; a payload starts at start(slot) and runs len(slot) bytes */
  bytes: Uint8Array;
  start(slot: number): number;
  len(slot: number): number;
  /** which of the rule's inputs the packet came on */
  path(slot: number): number;
  /** when ingress took the packet (ms, the clock of now()): gaps wait by the packets' times, so an
   *  egress that fell behind does not give up a gap whose filler is still in the ring */
  stamp(slot: number): number;
  /** milliseconds, monotonic (CLOCK_MONOTONIC) */
  now(): number;
  /** packets wait in the ring: time is then the packets' (the latest stamp), not the clock's */
  pending(): boolean;
  /** the rule's rows of path counters: MAX_PATHS × PATH_COUNTERS, in shared memory */
  counters: Float64Array;
  /** the packet is not forwarded: counted under the reason, its slot freed */
  discard(slot: number, why: MergeDrop): void;
  /** sequence numbers no path brought, given up */
  lost(n: number): void;
  /** a path went silent (up false) or brings packets again; silentMs: how long it had been quiet */
  event(path: number, up: boolean, silentMs: number): void;
}

export type MergeStage = Stage & { watch(now: number): void; flush(): void };

const EMPTY = 0, HELD = 1, SENT = 2, LOST = 3;
/** Consecutive packets behind the window that make the merge start again there (a sender that
 *  restarted its numbering lower, rather than a slow path). */
const RESYNC_AFTER = 8;

export function merge(cfg: Redundancy & { paths: number }, ctx: MergeContext, next: (slot: number) => void): MergeStage {
  const W = cfg.windowPackets;
  const S = 2 * W;
  const windowMs = cfg.windowMs;
  const paths = cfg.paths;
  const rtp = cfg.mode === "rtp";
  const width = cfg.mode === "sequence" ? cfg.width : 2;
  const offset = cfg.mode === "sequence" ? cfg.offset : 2;
  const little = cfg.mode === "sequence" && cfg.byteOrder === "little";
  /** numbers wrap at M (RTP 2^16, 4 bytes 2^32); 8-byte numbers are taken as they are (exact below 2^53) */
  const M = width === 2 ? 65536 : width === 4 ? 4294967296 : 0;
  const need = rtp ? 12 : offset + width;
  const b = ctx.bytes;
  const pc = ctx.counters;

  const seqAt = new Float64Array(S).fill(-1);
  const slotAt = new Int32Array(S).fill(-1);
  const timeAt = new Float64Array(S);
  const state = new Uint8Array(S);
  const mask = new Uint8Array(S);
  const lastSeen = new Float64Array(paths);
  const up = new Uint8Array(paths);

  let started = false;
  /** the next number due out */
  let nextSeq = 0;
  let held = 0;
  /** when the gap at nextSeq is given up */
  let dueAt = Infinity;
  let ssrc = -1;
  let lastAccepted = 0;
  let behind = 0;
  /** numbers below it are settled (counted per path) */
  let fin = 0;
  /** the clock of the call being served */
  let t = 0;
  /** the number read by seqOf (a plain variable: no object per packet) */
  let raw = 0;

  const ix = (seq: number) => seq % S;

  /** Reads the packet's number into raw; false when it has none. */
  function seqOf(slot: number, now: number): boolean {
    const len = ctx.len(slot);
    if (len < need) return false;
    const s = ctx.start(slot);
    if (rtp) {
      if (b[s] >> 6 !== 2) return false;
      const id = ((b[s + 8] << 24) | (b[s + 9] << 16) | (b[s + 10] << 8) | b[s + 11]) >>> 0;
      if (id !== ssrc) {
        // Another SSRC: a second source, or this one restarted. Taken once the known one is quiet.
        if (ssrc >= 0 && now - lastAccepted < cfg.silentMs) return false;
        if (ssrc >= 0) reset();
        ssrc = id;
      }
      raw = (b[s + 2] << 8) | b[s + 3];
      return true;
    }
    const o = s + offset;
    if (width === 4) {
      raw = little ? ((b[o + 3] << 24) | (b[o + 2] << 16) | (b[o + 1] << 8) | b[o]) >>> 0 : ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
    } else {
      const hi = little ? ((b[o + 7] << 24) | (b[o + 6] << 16) | (b[o + 5] << 8) | b[o + 4]) >>> 0 : ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
      const lo = little ? ((b[o + 3] << 24) | (b[o + 2] << 16) | (b[o + 1] << 8) | b[o]) >>> 0 : ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0;
      raw = hi * 4294967296 + lo;
    }
    return true;
  }

  /** The number's distance from nextSeq, with wrap (RTP 16-bit, 32-bit: the nearer way round). */
  function distance(r: number): number {
    if (M === 0) return r - nextSeq;
    let d = (r - (nextSeq % M) + M) % M;
    if (d >= M / 2) d -= M;
    return d;
  }

  /** What each path missed of a number is counted (once: numbers below fin are done). */
  function count(i: number): void {
    const st = state[i];
    const m = mask[i];
    if (st === SENT || st === LOST) {
      const field = st === SENT ? PC.repaired : PC.lost;
      for (let p = 0; p < paths; p++) if ((m & (1 << p)) === 0) pc[p * NPC + field]++;
    }
  }

  function clear(i: number): void {
    seqAt[i] = -1;
    state[i] = EMPTY;
    mask[i] = 0;
    slotAt[i] = -1;
  }

  /** Settles the numbers out for windowMs or more, in order. */
  function settle(now: number): void {
    while (fin < nextSeq) {
      const i = ix(fin);
      if (seqAt[i] === fin && (state[i] === SENT || state[i] === LOST)) {
        if (timeAt[i] + windowMs > now) return;
        count(i);
      }
      fin++;
    }
  }

  /** nextSeq moves on by one: the number windowPackets behind it leaves the history (settled now
   *  if it was not yet). */
  function step(): void {
    const leaving = nextSeq - W;
    if (leaving >= 0) {
      const i = ix(leaving);
      if (seqAt[i] === leaving) {
        if (leaving >= fin) count(i);
        clear(i);
      }
      if (fin <= leaving) fin = leaving + 1;
    }
    nextSeq++;
  }

  /** Sends the held numbers from nextSeq on while there is no gap; then when the next gap is due. */
  function run(): void {
    for (let i = ix(nextSeq); state[i] === HELD && seqAt[i] === nextSeq; i = ix(nextSeq)) {
      const slot = slotAt[i];
      state[i] = SENT;
      slotAt[i] = -1;
      timeAt[i] = t;
      held--;
      step();
      next(slot);
    }
    if (held === 0) {
      dueAt = Infinity;
      return;
    }
    // A gap at nextSeq: it waits as long as the first packet held after it may.
    for (let k = 1; k < W; k++) {
      const i = ix(nextSeq + k);
      if (state[i] === HELD && seqAt[i] === nextSeq + k) {
        dueAt = timeAt[i] + windowMs;
        return;
      }
    }
  }

  /** Gives up the gap at nextSeq: the number is lost on every path. */
  function giveUp(): void {
    const i = ix(nextSeq);
    if (seqAt[i] !== nextSeq) {
      seqAt[i] = nextSeq;
      state[i] = LOST;
      mask[i] = 0;
      timeAt[i] = t;
    }
    ctx.lost(1);
    step();
  }

  /** Sends everything held, in order, and forgets the window (a new start, or a rule's change). */
  function reset(): void {
    for (let k = 0; k < W && held > 0; k++) {
      const i = ix(nextSeq + k);
      if (state[i] === HELD && seqAt[i] === nextSeq + k) {
        held--;
        next(slotAt[i]);
      }
    }
    for (let i = 0; i < S; i++) {
      if (seqAt[i] < 0) continue;
      if (seqAt[i] >= fin) count(i);
      clear(i);
    }
    held = 0;
    dueAt = Infinity;
    started = false;
  }

  /** The first copy of number seq (d = its distance ahead of nextSeq, 0 ≤ d < W). */
  function first(slot: number, seq: number, d: number, bit: number, now: number): void {
    const i = ix(seq);
    seqAt[i] = seq;
    mask[i] = bit;
    if (d === 0) {
      state[i] = SENT;
      timeAt[i] = now;
      step();
      next(slot);
      if (held > 0) run();
      return;
    }
    state[i] = HELD;
    slotAt[i] = slot;
    timeAt[i] = now;
    if (held++ === 0) dueAt = now + windowMs;
  }

  /** the latest stamp seen */
  let dataNow = 0;

  function lag(row: number, ms: number): void {
    if (ms > pc[row + PC.maxLagMs]) pc[row + PC.maxLagMs] = Math.round(ms);
  }

  function push(slot: number): void {
    const now = ctx.stamp(slot);
    if (now > dataNow) dataNow = now;
    t = now;
    accept(slot, now);
    settle(now);
  }

  function accept(slot: number, now: number): void {
    const path = ctx.path(slot);
    const row = path * NPC;
    const bit = 1 << path;
    pc[row + PC.packets]++;
    if (up[path] === 0) {
      up[path] = 1;
      pc[row + PC.up] = 1;
      ctx.event(path, true, lastSeen[path] === 0 ? 0 : now - lastSeen[path]);
    }
    lastSeen[path] = now;
    if (!seqOf(slot, now)) {
      ctx.discard(slot, "no_sequence");
      return;
    }
    lastAccepted = now;
    if (!started) {
      started = true;
      nextSeq = raw;
      fin = raw;
    }
    let d = distance(raw);
    const seq = nextSeq + d;
    if (d >= W) {
      if (d >= S) {
        // Far ahead (a jump, or a long outage of every path): start again from it.
        ctx.lost(d - held);
        reset();
        started = true;
        nextSeq = raw;
        fin = raw;
        d = 0;
      } else {
        // Beyond what the window holds: the oldest gaps are given up to make room.
        while (nextSeq + W <= seq) {
          const i = ix(nextSeq);
          if (state[i] === HELD && seqAt[i] === nextSeq) run();
          else giveUp();
        }
        d = seq - nextSeq;
      }
    }
    if (d >= 0) {
      behind = 0;
      const i = ix(nextSeq + d);
      if (seqAt[i] === nextSeq + d) {
        mask[i] |= bit;
        pc[row + PC.duplicates]++;
        lag(row, now - timeAt[i]);
        ctx.discard(slot, "redundant_copy");
        return;
      }
      pc[row + PC.unique]++;
      if (d > 0 && windowMs === 0) {
        while (nextSeq < seq) giveUp(); // no waiting: a gap is lost as soon as it is seen
        d = 0;
      }
      first(slot, nextSeq + d, d, bit, now);
      return;
    }
    // Behind nextSeq: a copy of what was sent, or of what was given up.
    const i = ix(seq);
    if (d >= -W && seq >= 0 && seqAt[i] === seq) {
      behind = 0;
      const wasSent = state[i] === SENT && seq >= fin; // a copy after its number settled is late
      mask[i] |= bit;
      pc[row + (wasSent ? PC.duplicates : PC.late)]++;
      lag(row, now - timeAt[i]);
      ctx.discard(slot, wasSent ? "redundant_copy" : "redundant_late");
      return;
    }
    pc[row + PC.late]++;
    if (++behind >= RESYNC_AFTER) {
      behind = 0;
      reset();
    }
    ctx.discard(slot, "redundant_late");
  }

  return {
    push,
    pull() {
      // Behind (the ring holds packets): the gaps wait by the packets' clock, not the wall's.
      const now = ctx.pending() ? dataNow : ctx.now();
      t = now;
      while (held > 0 && dueAt <= now) {
        giveUp();
        while (held > 0 && !(state[ix(nextSeq)] === HELD && seqAt[ix(nextSeq)] === nextSeq)) giveUp();
        run();
      }
      settle(now);
    },
    due: () => dueAt,
    /** Held packets are sent (in order) rather than dropped when the rule changes or goes. */
    held: () => [],
    flush: reset,
    watch(now) {
      t = now;
      settle(now);
      for (let p = 0; p < paths; p++) {
        if (up[p] === 1 && now - lastSeen[p] >= cfg.silentMs) {
          up[p] = 0;
          pc[p * NPC + PC.up] = 0;
          pc[p * NPC + PC.silences]++;
          ctx.event(p, false, now - lastSeen[p]);
        }
      }
    },
  };
}
