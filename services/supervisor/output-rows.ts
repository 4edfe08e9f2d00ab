// Output counter rows: each output of a rule (by its place in the rule's outputs) gets a row of
// OUTPUT_COUNTERS in every egress, from a pool of OUTPUT_ROWS_PER_RULE × --max-rules rows, so a
// rule with 50 outputs counts each while most rules have one or two. A rule keeps its rows while
// its number lives; they are freed (and zeroed, by the caller) when the number is recycled. An
// output that finds the pool empty is counted in its rule's totals only.

export class OutputRows {
  private readonly byRule = new Map<number, number[]>();
  private readonly free: number[] = [];
  private next = 0;

  constructor(readonly max: number) {}

  /** The row of output `index` of rule `no`, giving it one if it has none; -1 when none is left. */
  row(no: number, index: number): number {
    let rows = this.byRule.get(no);
    if (!rows) this.byRule.set(no, (rows = []));
    const have = rows[index];
    if (have !== undefined && have >= 0) return have;
    const r = this.free.length ? this.free.pop()! : this.next < this.max ? this.next++ : -1;
    rows[index] = r;
    return r;
  }

  /** Rows by output index (-1: none) of a rule number. */
  of(no: number): number[] {
    return Array.from(this.byRule.get(no) ?? [], (r) => r ?? -1);
  }

  /** The number is free again: its rows go back to the pool. Returns them (to be zeroed). */
  release(no: number): number[] {
    const rows = (this.byRule.get(no) ?? []).filter((r) => r !== undefined && r >= 0);
    this.byRule.delete(no);
    this.free.push(...rows);
    return rows;
  }
}
