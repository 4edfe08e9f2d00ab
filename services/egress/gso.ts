// UDP GSO on raw outputs (`gso: true`): the datagrams of a send batch that go to one output with
// the same length (and TOS, where the output copies it) are queued as one super-frame (uring.c,
// mr_uring_send_gso) instead of a send each, and the interface or the kernel cuts it into datagrams
// again. The send path's cost is per request and per skb that crosses the stack, not per byte:
// from a C loop into a veth, 1.36 µs a datagram as super-frames against 2.33–2.69 sent one by one
// (bench:sendfloor, docs/PERFORMANCE.md).
// Here: what is pending per output until the batch is submitted, and which slots a super-frame's
// one completion stands for.
import { GSO_MAX } from "../../c/uring.ts";

/** A completion's slot field with this bit is a group (its low bits the group's number), not a slot. */
export const GROUP_BIT = 0x80000000;

/** The most datagrams of len bytes one super-frame carries: an IPv4 packet's 65,535 bytes, GSO_MAX at most. */
export function gsoCap(len: number): number {
  return Math.max(1, Math.min(GSO_MAX, Math.floor((65_535 - 28) / Math.max(1, len))));
}

/** Slots waiting for one GSO output's next super-frame (one per output of a rule's RuleOutputs). */
export class Pending {
  readonly slots: Int32Array;
  readonly n: Uint8Array;
  readonly len: Uint32Array;
  readonly tos: Uint32Array;
  /** among this turn's outputs with datagrams pending (Egress.schedule sends them) */
  listed = false;
  constructor(outputs: number) {
    this.slots = new Int32Array(outputs * GSO_MAX);
    this.n = new Uint8Array(outputs);
    this.len = new Uint32Array(outputs);
    this.tos = new Uint32Array(outputs);
  }
}

/** The slots of each super-frame in flight, by group number; as many groups as sends in flight. */
export class Groups {
  private readonly slots: Int32Array;
  private readonly n: Uint8Array;
  private readonly free: Int32Array;
  private nFree: number;
  constructor(readonly capacity: number) {
    this.slots = new Int32Array(capacity * GSO_MAX);
    this.n = new Uint8Array(capacity);
    this.free = Int32Array.from({ length: capacity }, (_, i) => capacity - 1 - i);
    this.nFree = capacity;
  }

  /** A group of p.slots[from .. from + k); its number, or -1 when every group is in flight. */
  open(p: Pending, from: number, k: number): number {
    if (this.nFree === 0) return -1;
    const g = this.free[--this.nFree];
    this.slots.set(p.slots.subarray(from, from + k), g * GSO_MAX);
    this.n[g] = k;
    return g;
  }

  size(g: number): number {
    return this.n[g];
  }

  slot(g: number, j: number): number {
    return this.slots[g * GSO_MAX + j];
  }

  close(g: number): void {
    this.free[this.nFree++] = g;
  }
}
