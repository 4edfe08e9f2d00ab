// A stage context without an egress, for stage tests: packets are given as byte arrays, one per
// slot number, laid end to end in one buffer.
import type { StageContext } from "./stage.ts";

export function fakeContext(packets: Uint8Array[] = [], frames = false): StageContext & { modifiedSlots: number[] } {
  const starts: number[] = [];
  let at = 0;
  for (const p of packets) {
    starts.push(at);
    at += p.length;
  }
  const bytes = new Uint8Array(Math.max(1, at));
  packets.forEach((p, i) => bytes.set(p, starts[i]));
  const modifiedSlots: number[] = [];
  return {
    len: (slot) => packets[slot]?.length ?? 0,
    bytes,
    start: (slot) => starts[slot] ?? 0,
    frames,
    modified: (slot) => void modifiedSlots.push(slot),
    modifiedSlots,
    random: Math.random,
    drop: () => {},
    duplicate: () => {},
    now: () => 0,
  };
}
