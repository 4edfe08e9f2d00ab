// Sampled packets on their way to OpenTelemetry: egress appends a record when a sampled packet's
// last output completes; readers (the API) follow without writing anything to the segment.
// The ring overwrites its oldest records; each record carries its sequence number, written last,
// so a reader detects records it was too slow for and skips them (counting the loss).
// Beside the ring, a region of the same number of entries holds each record's stages (where its
// packet's time went): written before the record's seq, so a record read whole has them whole.
import { LINE, TRACE_RECORDS, TRACE_RECORD_BYTES, TRACE_STAGE_BYTES } from "./layout.ts";

/** Record layout (u32 words): seq, rule, src, dst, ports, size, outputs, family; f64 rxNs, doneNs.
 *  family 6: src and dst are not the packet's addresses (16 bytes each do not fit). */
const W = { seq: 0, rule: 1, src: 2, dst: 3, ports: 4, size: 5, outputs: 6, family: 7 } as const;
const RX = 4; // f64 index within the record
const DONE = 5;
const WORDS = TRACE_RECORD_BYTES / 4;
/** Stage entry (u32 words, ns): the wait in the AF_PACKET ring (kernel receive to rxNs), rxNs to
 *  egress's take, rxNs to egress's io_uring submit. */
const S = { ringWait: 0, take: 1, submit: 2 } as const;
const STAGE_WORDS = TRACE_STAGE_BYTES / 4;

export interface TraceRecord {
  rule: number;
  src: number;
  dst: number;
  sport: number;
  dport: number;
  size: number;
  outputs: number;
  /** 4, or 6: src and dst say nothing */
  family: number;
  rxNs: number;
  doneNs: number;
  /** with a stages region: ns from the kernel's receive to rxNs, and from rxNs to egress's take and submit */
  ringWaitNs?: number;
  takeNs?: number;
  submitNs?: number;
}

export class TraceWriter {
  private readonly head: Int32Array;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  private readonly stages: Uint32Array | null;
  private n: number;

  /** stagesOff: the stages region (layout traceStages), or < 0 for none */
  constructor(buf: ArrayBuffer, off: number, stagesOff = -1) {
    this.head = new Int32Array(buf, off, 1);
    this.u32 = new Uint32Array(buf, off + LINE, WORDS * TRACE_RECORDS);
    this.f64 = new Float64Array(buf, off + LINE, (WORDS / 2) * TRACE_RECORDS);
    this.stages = stagesOff >= 0 ? new Uint32Array(buf, stagesOff, STAGE_WORDS * TRACE_RECORDS) : null;
    this.n = Atomics.load(this.head, 0) >>> 0;
  }

  write(rule: number, src: number, dst: number, ports: number, size: number, outputs: number, rxNs: number, doneNs: number, family = 4,
    ringWaitNs = 0, takeNs = 0, submitNs = 0): void {
    const i = this.n % TRACE_RECORDS;
    const w = i * WORDS;
    Atomics.store(this.u32, w + W.seq, 0); // invalid while it is rewritten
    if (this.stages) {
      const s = i * STAGE_WORDS;
      this.stages[s + S.ringWait] = ringWaitNs;
      this.stages[s + S.take] = takeNs;
      this.stages[s + S.submit] = submitNs;
    }
    this.u32[w + W.rule] = rule;
    this.u32[w + W.src] = src;
    this.u32[w + W.dst] = dst;
    this.u32[w + W.ports] = ports;
    this.u32[w + W.size] = size;
    this.u32[w + W.outputs] = outputs;
    this.u32[w + W.family] = family;
    this.f64[(w >> 1) + RX] = rxNs;
    this.f64[(w >> 1) + DONE] = doneNs;
    this.n = (this.n + 1) >>> 0;
    Atomics.store(this.u32, w + W.seq, this.n); // seq = its 1-based position, never 0
    Atomics.store(this.head, 0, this.n | 0);
  }
}

export class TraceReader {
  private readonly head: Int32Array;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  private readonly stages: Uint32Array | null;
  /** records written before we started are not ours to report */
  private next: number;
  lost = 0;

  constructor(buf: ArrayBuffer, off: number, stagesOff = -1) {
    this.head = new Int32Array(buf, off, 1);
    this.u32 = new Uint32Array(buf, off + LINE, WORDS * TRACE_RECORDS);
    this.f64 = new Float64Array(buf, off + LINE, (WORDS / 2) * TRACE_RECORDS);
    this.stages = stagesOff >= 0 ? new Uint32Array(buf, stagesOff, STAGE_WORDS * TRACE_RECORDS) : null;
    this.next = Atomics.load(this.head, 0) >>> 0;
  }

  /** Every record written since the last call (oldest first); overwritten ones are counted as lost. */
  read(): TraceRecord[] {
    const head = Atomics.load(this.head, 0) >>> 0;
    const out: TraceRecord[] = [];
    if (((head - this.next) >>> 0) > TRACE_RECORDS) {
      const skip = ((head - this.next) >>> 0) - TRACE_RECORDS;
      this.lost += skip;
      this.next = (this.next + skip) >>> 0;
    }
    for (; this.next !== head; this.next = (this.next + 1) >>> 0) {
      const w = (this.next % TRACE_RECORDS) * WORDS;
      const rec: TraceRecord = {
        rule: this.u32[w + W.rule], src: this.u32[w + W.src], dst: this.u32[w + W.dst],
        sport: this.u32[w + W.ports] >>> 16, dport: this.u32[w + W.ports] & 0xffff, size: this.u32[w + W.size],
        outputs: this.u32[w + W.outputs], family: this.u32[w + W.family], rxNs: this.f64[(w >> 1) + RX], doneNs: this.f64[(w >> 1) + DONE],
      };
      if (this.stages) {
        const s = (this.next % TRACE_RECORDS) * STAGE_WORDS;
        rec.ringWaitNs = this.stages[s + S.ringWait];
        rec.takeNs = this.stages[s + S.take];
        rec.submitNs = this.stages[s + S.submit];
      }
      // Re-read the seq after copying: if the writer lapped us meanwhile, the copy is torn.
      if (Atomics.load(this.u32, w + W.seq) !== ((this.next + 1) >>> 0)) this.lost++;
      else out.push(rec);
    }
    return out;
  }
}
