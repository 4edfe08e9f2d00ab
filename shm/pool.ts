// Ingress's view of its pair's buffer pool: stacks of free slot indices, refilled in batches
// from the free ring that egress returns slots on. Each slot has exactly one owner at a time:
// ingress (on a stack), the descriptor ring, egress (sending), or the free ring.
import type { RingConsumer } from "./ring.ts";

export class SlotStacks {
  private readonly std: Uint32Array;
  private readonly jumbo: Uint32Array;
  private nStd = 0;
  private nJumbo = 0;

  constructor(private readonly slots: number, jumboSlots: number) {
    this.std = new Uint32Array(slots);
    this.jumbo = new Uint32Array(jumboSlots);
    for (let i = slots - 1; i >= 0; i--) this.std[this.nStd++] = i;
    for (let i = slots + jumboSlots - 1; i >= slots; i--) this.jumbo[this.nJumbo++] = i;
  }

  get free(): number {
    return this.nStd + this.nJumbo;
  }

  /** A standard slot, or -1. */
  takeStd(): number {
    return this.nStd > 0 ? this.std[--this.nStd] : -1;
  }

  /** A jumbo slot, or -1. */
  takeJumbo(): number {
    return this.nJumbo > 0 ? this.jumbo[--this.nJumbo] : -1;
  }

  give(idx: number): void {
    if (idx < this.slots) this.std[this.nStd++] = idx;
    else this.jumbo[this.nJumbo++] = idx;
  }

  /**
   * After egress died: every slot that is on no stack and in neither ring was in the dead
   * egress's hands. Those sends are over (sent or lost), so the slots are free again; `each` sees
   * every one first (its packet is counted as lost).
   */
  reclaim(total: number, inRings: Set<number>, each: (slot: number) => void = () => {}): number {
    const mine = new Set<number>([...this.std.subarray(0, this.nStd), ...this.jumbo.subarray(0, this.nJumbo)]);
    let n = 0;
    for (let i = 0; i < total; i++) {
      if (!mine.has(i) && !inRings.has(i)) {
        each(i);
        this.give(i);
        n++;
      }
    }
    return n;
  }

  /** Takes every slot egress has returned. Returns how many. */
  refill(freeRing: RingConsumer): number {
    const n = freeRing.available();
    for (let i = 0; i < n; i++) this.give(freeRing.take());
    if (n > 0) freeRing.release();
    return n;
  }
}
