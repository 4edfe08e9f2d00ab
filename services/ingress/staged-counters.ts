// Counters of one batch of frames, kept aside and added to shared memory just before the batch is
// published to egress. A replacement ingress re-reads a batch its predecessor did not publish
// (rx-ring.ts); staging keeps that batch from being counted twice. Cost: the same typed-array
// increments as counting in place, plus one pass over the touched rows per batch.

export class StagedCounters {
  /** staged worker counters, indexed like the shared block */
  readonly c: Float64Array;
  /** staged rule rows, indexed like the shared rows */
  readonly rc: Float64Array;
  private readonly touched: Int32Array;
  private readonly marked: Uint8Array;
  private n = 0;

  constructor(private readonly shared: Float64Array, private readonly sharedRules: Float64Array, private readonly rowLen: number) {
    this.c = new Float64Array(shared.length);
    this.rc = new Float64Array(sharedRules.length);
    const rules = sharedRules.length / rowLen;
    this.touched = new Int32Array(rules);
    this.marked = new Uint8Array(rules);
  }

  /** The staged row of rule `no` (its first index in rc). */
  row(no: number): number {
    if (this.marked[no] === 0) {
      this.marked[no] = 1;
      this.touched[this.n++] = no;
    }
    return no * this.rowLen;
  }

  /** Adds everything staged to shared memory and starts empty. */
  flush(): void {
    const c = this.c;
    const s = this.shared;
    for (let i = 0; i < c.length; i++) {
      if (c[i] !== 0) {
        s[i] += c[i];
        c[i] = 0;
      }
    }
    const rc = this.rc;
    const sr = this.sharedRules;
    for (let k = 0; k < this.n; k++) {
      const no = this.touched[k];
      this.marked[no] = 0;
      for (let i = no * this.rowLen, end = i + this.rowLen; i < end; i++) {
        if (rc[i] !== 0) {
          sr[i] += rc[i];
          rc[i] = 0;
        }
      }
    }
    this.n = 0;
  }
}
