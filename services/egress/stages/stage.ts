// A stage is one small idea between match and send, in the spirit of Snabb's apps: it gets
// packets (as slot numbers: no object per packet) and passes them on, drops them, sends them
// twice, or holds them for later. A new stage is one module here and one line in registry.ts.

export interface StageContext {
  /** the packet's length: a rule's UDP payload, or a link's whole Ethernet frame */
  len(slot: number): number;
  /** Every slot's bytes (one view, shared: nothing is allocated per packet); a packet starts at
   *  start(slot) and runs len(slot) bytes. */
  bytes: Uint8Array;
  start(slot: number): number;
  /** true when packets are a link's Ethernet frames, false when they are a rule's UDP payloads */
  frames: boolean;
  /** A stage that wrote into a packet says so: its UDP checksum is then computed afresh. */
  modified(slot: number): void;
  /** this rule's seeded random numbers in [0, 1): same seed and packets, same decisions */
  random(): number;
  /** the slot is dropped here (counted under the reason impairment, its buffer freed) */
  drop(slot: number): void;
  /** send the slot once more, besides passing it on */
  duplicate(slot: number): void;
  /** milliseconds on a monotonic clock (the egress loop's) */
  now(): number;
}

export interface Stage {
  push(slot: number): void;
  /** Releases what is due; the loop calls it every turn while the stage holds packets. */
  pull?(now: number): void;
  /** When the next held packet is due (ms), or Infinity: lets the loop sleep just long enough. */
  due?(): number;
  /** Held packets (for bounded holding and for freeing them when the rule goes away). */
  held?(): number[];
}

/** Builds a stage from its parameters; next is where its packets go. */
export type StageFactory<P = any> = (params: P, ctx: StageContext, next: (slot: number) => void) => Stage;
