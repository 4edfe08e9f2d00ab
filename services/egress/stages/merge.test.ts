// The merge on a clock of its own: packets as byte arrays (an RTP header, or a number at an
// offset), each with the path it came on; what leaves, in which order, and what is counted.
import { describe, expect, test } from "bun:test";
import { redundancySchema } from "../../../rules/schema.ts";
import { indexOf } from "../../../shm/counters.ts";
import { MAX_PATHS, PATH_COUNTERS } from "../../../shm/layout.ts";
import { merge, type MergeDrop } from "./merge.ts";

const PC = indexOf(PATH_COUNTERS);
const NPC = PATH_COUNTERS.length;

function rtp(seq: number, ssrc = 0x1234abcd): Uint8Array {
  const b = new Uint8Array(20);
  b[0] = 0x80;
  b[1] = 96;
  b[2] = (seq >> 8) & 0xff;
  b[3] = seq & 0xff;
  new DataView(b.buffer).setUint32(8, ssrc);
  return b;
}

function seqAt(seq: number, width: 4 | 8, little: boolean, offset = 4): Uint8Array {
  const b = new Uint8Array(offset + width + 4);
  const v = new DataView(b.buffer);
  if (width === 4) v.setUint32(offset, seq, little);
  else v.setBigUint64(offset, BigInt(seq), little);
  return b;
}

/** One slot per packet pushed (slot numbers are never reused here). */
function harness(cfg: object, paths = 2) {
  const r = redundancySchema.parse(cfg);
  const bytes = new Uint8Array(1 << 22);
  const starts: number[] = [], lens: number[] = [], pathOf: number[] = [], seqOf: number[] = [];
  let at = 0;
  let now = 1000;
  const sent: number[] = [];
  const dropped: [number, MergeDrop][] = [];
  const events: [number, boolean][] = [];
  let lost = 0;
  const counters = new Float64Array(MAX_PATHS * NPC);
  const m = merge({ ...r, paths }, {
    bytes, start: (s) => starts[s]!, len: (s) => lens[s]!, path: (s) => pathOf[s]!, now: () => now, stamp: () => now, pending: () => false, counters,
    discard: (s, why) => dropped.push([seqOf[s]!, why]), lost: (n) => (lost += n), event: (p, up) => events.push([p, up]),
  }, (s) => sent.push(seqOf[s]!));
  const push = (path: number, pkt: Uint8Array, seq: number) => {
    const slot = starts.length;
    starts.push(at);
    lens.push(pkt.length);
    pathOf.push(path);
    seqOf.push(seq);
    bytes.set(pkt, at);
    at += pkt.length;
    m.push(slot);
  };
  const path = (p: number) => Object.fromEntries(PATH_COUNTERS.map((n) => [n, counters[p * NPC + PC[n]]]));
  return { m, push, sent, dropped, events, path, lost: () => lost, at: (t: number) => ((now = t), m.pull!(t), m.watch(t)) };
}

describe("merge", () => {
  test("A drops every 10th, B every 7th: each number once, in order; what each path gave and repaired", () => {
    const h = harness({ mode: "rtp" });
    // 0..700: the last (on both) shows that 699 is a gap (one at the very end is not known as one)
    for (let s = 0; s <= 700; s++) {
      if (s % 10 !== 9) h.push(0, rtp(s), s);
      if (s % 7 !== 6) h.push(1, rtp(s), s);
    }
    h.at(2000); // the gaps are given up
    const both = [...Array(700).keys()].filter((s) => s % 10 === 9 && s % 7 === 6);
    expect(h.sent).toEqual([...Array(701).keys()].filter((s) => !both.includes(s)));
    expect(h.lost()).toBe(both.length);
    const a = h.path(0), b = h.path(1);
    expect(a.packets).toBe(631);
    expect(b.packets).toBe(601);
    expect(a.unique + b.unique).toBe(701 - both.length);
    expect(a.duplicates + b.duplicates).toBe(631 + 601 - (701 - both.length));
    h.m.flush(); // every number leaves the history: what each path missed is counted
    expect(h.path(0).repaired).toBe(70 - both.length); // A missed 70, B brought 60 of them
    expect(h.path(1).repaired).toBe(100 - both.length);
    expect(h.path(0).lost).toBe(both.length);
  });

  test("a gap waits for the slower path, at most windowMs", () => {
    const h = harness({ mode: "rtp", windowMs: 10 });
    h.push(0, rtp(1), 1);
    h.push(0, rtp(3), 3); // 2 missing on A: 3 waits
    expect(h.sent).toEqual([1]);
    h.at(1005);
    h.push(1, rtp(2), 2); // B brings it in time
    expect(h.sent).toEqual([1, 2, 3]);
    h.push(0, rtp(5), 5); // 4 never comes
    h.at(1009);
    expect(h.sent).toEqual([1, 2, 3]);
    h.at(1016);
    expect(h.sent).toEqual([1, 2, 3, 5]);
    expect(h.lost()).toBe(1);
    h.push(1, rtp(4), 4); // too late
    expect(h.dropped.at(-1)).toEqual([4, "redundant_late"]);
  });

  test("RTP numbers wrap at 65,535; sequence numbers at 2^32; 8-byte ones do not", () => {
    const r = harness({ mode: "rtp" });
    for (let s = 65530; s < 65545; s++) for (const p of [0, 1]) r.push(p, rtp(s & 0xffff), s);
    expect(r.sent).toEqual([...Array(15).keys()].map((k) => 65530 + k));
    for (const little of [false, true]) {
      const h = harness({ mode: "sequence", offset: 4, width: 4, byteOrder: little ? "little" : "big" });
      const base = 2 ** 32 - 5;
      for (let s = base; s < base + 10; s++) for (const p of [1, 0]) h.push(p, seqAt(s % 2 ** 32, 4, little), s);
      expect(h.sent).toEqual([...Array(10).keys()].map((k) => base + k));
      const w = harness({ mode: "sequence", offset: 4, width: 8, byteOrder: little ? "little" : "big" });
      for (let s = base; s < base + 10; s++) for (const p of [1, 0]) w.push(p, seqAt(s, 8, little), s);
      expect(w.sent).toEqual([...Array(10).keys()].map((k) => base + k));
    }
  });

  test("a reordered path within the window comes out in order", () => {
    const h = harness({ mode: "rtp" });
    const order = [0, 2, 1, 4, 3, 6, 5, 8, 7, 9];
    for (const s of order) h.push(1, rtp(s), s);
    expect(h.sent).toEqual([...Array(10).keys()]);
    expect(h.lost()).toBe(0);
  });

  test("another SSRC is refused while the first is alive; a short packet has no number", () => {
    const h = harness({ mode: "rtp" });
    h.push(0, rtp(1), 1);
    h.push(1, rtp(2, 7), 2);
    h.push(1, new Uint8Array(8), 3);
    expect(h.dropped).toEqual([[2, "no_sequence"], [3, "no_sequence"]]);
  });

  test("a path that brings nothing for silentMs is silent, and up again with its next packet", () => {
    const h = harness({ mode: "rtp", silentMs: 100 });
    h.push(0, rtp(1), 1);
    h.push(1, rtp(1), 1);
    h.at(1050);
    h.push(1, rtp(2), 2);
    h.at(1120);
    expect(h.events).toEqual([[0, true], [1, true], [0, false]]);
    expect(h.path(0).up).toBe(0);
    expect(h.path(0).silences).toBe(1);
    h.push(0, rtp(3), 3);
    expect(h.events.at(-1)).toEqual([0, true]);
    expect(h.path(0).up).toBe(1);
  });

  test("a gap wider than the window is given up at once; a far jump starts again", () => {
    const h = harness({ mode: "sequence", offset: 0, width: 4, windowPackets: 16 });
    h.push(0, seqAt(0, 4, false, 0), 0);
    h.push(0, seqAt(20, 4, false, 0), 20);
    expect(h.sent).toEqual([0]);
    expect(h.lost()).toBe(4); // 1..4 given up to hold 20 within 16
    h.push(0, seqAt(1000, 4, false, 0), 1000);
    expect(h.sent).toEqual([0, 20, 1000]);
  });
});
