// Frames survive any chunking, and a writer never cuts or loses one, however little the socket takes.
import { describe, expect, test } from "bun:test";
import { FrameError, FrameReader, FrameWriter, MAX_FRAME_BYTES, encodeFrame } from "./frame.ts";

const msgs = [{ a: 1 }, { text: "é".repeat(1000) }, [], { big: "x".repeat(300_000) }, { n: null }];

describe("frames", () => {
  test("every split of the stream gives the same messages, in order", () => {
    const stream = Buffer.concat(msgs.map(encodeFrame));
    for (const size of [1, 2, 3, 4, 5, 7, 4096, 65536, stream.length]) {
      const r = new FrameReader();
      const got: unknown[] = [];
      for (let o = 0; o < stream.length; o += size) got.push(...r.push(stream.subarray(o, o + size)));
      expect(got).toEqual(msgs);
    }
  });

  test("a writer on a socket that takes a few bytes at a time delivers every frame whole", () => {
    const out: Buffer[] = [];
    let budget = 0;
    const sock = { write: (d: Uint8Array) => { const n = Math.min(budget, d.length); out.push(Buffer.from(d.subarray(0, n))); budget -= n; return n; } };
    const w = new FrameWriter(sock);
    for (const m of msgs) w.send(m);
    expect(w.pending).toBeGreaterThan(0);
    for (let i = 0; i < 100_000 && !w.drain(); i++) budget = 7;
    expect(w.pending).toBe(0);
    const r = new FrameReader();
    expect(r.push(Buffer.concat(out))).toEqual(msgs);
  });

  test("an oversized or garbled frame is an error, not a crash or a guess", () => {
    const big = Buffer.alloc(4);
    big.writeUInt32BE(MAX_FRAME_BYTES + 1);
    expect(() => new FrameReader().push(big)).toThrow(FrameError);
    const bad = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from("{x}")]);
    expect(() => new FrameReader().push(bad)).toThrow(/not JSON/);
  });
});
