// How an idle ingress waits for frames, chosen by the rate the way a NIC moderates its interrupts.
// A TPACKET_V2 ring wakes a poll()ing reader on every frame: at low rates that is what we want
// (each frame on its way at once), at high rates it is a wake-up per frame or two, which costs
// more CPU than the frame itself. So above a rate ingress *holds*: it sleeps a short, timed while
// without polling its sockets, and takes what gathered meanwhile as one batch (and egress gets it
// as one batch too). The hold grows with the square of the rate, up to HOLD_MAX_US at FULL_RATE
// and above — there a batch is what a TPACKET_V3 block with its 1 ms retire timer gathered, so
// the CPU per packet at high rates is the block ring's — and is used only when a frame or more is
// due within it (below, a hold would be a wasted wake-up): with the constants here that is from
// ~29k pps (37 µs), 111 µs at 50k, 444 µs at 100k. Why so long so soon: a batch costs ~20 µs of
// CPU on a shared 2-core VM (a timer wake-up of ingress, a futex wake-up of egress, their system
// calls), so 11 frames a batch (a linear 200 µs curve at 100k) cost ~1.5 µs more per packet than
// V3's ~100 (docs/PERFORMANCE.md, latency).

/** The longest hold (µs), reached at FULL_RATE: batches as a V3 block's 1 ms timer gave (MCRELAY_TUNE_HOLD_US). */
export const HOLD_MAX_US = 1000;
/** frames/s at which the hold is HOLD_MAX_US */
export const FULL_RATE = 150_000;
/** The rate is measured over windows of this length (ns) and smoothed over two. Not shorter: a
 *  sender's bursts (a descheduled sender catching up) made 2 ms windows of a steady 20k frames/s
 *  read above the hold threshold hundreds of times a second, and each hold was a frame's p99. */
export const WINDOW_NS = 10_000_000;

/** The hold (µs) at a rate (frames/s): 0 means poll (be woken by the next frame). */
export function holdUs(rate: number, maxUs = HOLD_MAX_US): number {
  const x = Math.min(1, rate / FULL_RATE);
  const h = maxUs * x * x;
  return (rate * h) / 1e6 >= 1 ? Math.round(h) : 0;
}

export class Moderation {
  /** smoothed frames/s */
  rate = 0;
  constructor(private readonly maxUs = HOLD_MAX_US) {}
  private frames = 0;
  private since = 0;

  /** n frames were taken by a pass at time now (ns, monotonic). */
  count(n: number, now: number): void {
    this.frames += n;
    const dt = now - this.since;
    if (dt < WINDOW_NS) return;
    const r = this.since === 0 ? 0 : (this.frames * 1e9) / dt;
    this.rate = this.since === 0 ? r : (this.rate + r) / 2;
    this.frames = 0;
    this.since = now;
  }

  /** How long to hold (µs) before the next pass; 0: poll. */
  hold(): number {
    return holdUs(this.rate, this.maxUs);
  }
}
