import { describe, expect, test } from "bun:test";
import { LINE, TRACE_RECORDS, TRACE_RECORD_BYTES, TRACE_STAGE_BYTES } from "./layout.ts";
import { TraceReader, TraceWriter } from "./trace.ts";

const ring = () => new ArrayBuffer(LINE + TRACE_RECORD_BYTES * TRACE_RECORDS);

describe("trace ring", () => {
  test("a reader sees what was written after it started, in order, with every field", () => {
    const buf = ring();
    const w = new TraceWriter(buf, 0);
    w.write(9, 1, 2, 3, 4, 5, 6, 7); // before the reader: not reported
    const r = new TraceReader(buf, 0);
    w.write(1, 0x0a000002, 0xef010101, (4000 << 16) | 5000, 1400, 3, 1e9, 1e9 + 500);
    w.write(2, 1, 2, 3, 4, 1, 10, 20);
    const got = r.read();
    expect(got).toEqual([
      { rule: 1, src: 0x0a000002, dst: 0xef010101, sport: 4000, dport: 5000, size: 1400, outputs: 3, family: 4, rxNs: 1e9, doneNs: 1e9 + 500 },
      { rule: 2, src: 1, dst: 2, sport: 0, dport: 3, size: 4, outputs: 1, family: 4, rxNs: 10, doneNs: 20 },
    ]);
    expect(r.read()).toEqual([]);
    expect(r.lost).toBe(0);
  });

  test("a reader that fell behind skips the overwritten records and counts them", () => {
    const buf = ring();
    const w = new TraceWriter(buf, 0);
    const r = new TraceReader(buf, 0);
    for (let i = 0; i < TRACE_RECORDS + 10; i++) w.write(i, 0, 0, 0, 0, 0, 0, 0);
    const got = r.read();
    expect(got.length).toBe(TRACE_RECORDS);
    expect(r.lost).toBe(10);
    expect(got[0].rule).toBe(10);
    expect(got[got.length - 1].rule).toBe(TRACE_RECORDS + 9);
  });
});

describe("trace stages", () => {
  test("with a stages region, each record carries its packet's stages", () => {
    const buf = new ArrayBuffer(LINE + TRACE_RECORD_BYTES * TRACE_RECORDS + TRACE_STAGE_BYTES * TRACE_RECORDS);
    const stages = LINE + TRACE_RECORD_BYTES * TRACE_RECORDS;
    const w = new TraceWriter(buf, 0, stages);
    const r = new TraceReader(buf, 0, stages);
    w.write(1, 2, 3, 4, 64, 1, 1000, 9000, 4, 700, 2500, 4100);
    expect(r.read()).toEqual([{ rule: 1, src: 2, dst: 3, sport: 0, dport: 4, size: 64, outputs: 1, family: 4, rxNs: 1000, doneNs: 9000, ringWaitNs: 700, takeNs: 2500, submitNs: 4100 }]);
  });
});
