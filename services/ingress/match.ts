// Which rule a datagram belongs to: (input, group, port[, source]) -> rule number, or -1.
// One Map per input interface, keyed by group*65536+port (exact below 2^53); a source-specific
// rule wins over an any-source rule for the same group and port.

export interface MatchRule {
  no: number;
  /** index of the input interface in the worker's input list */
  input: number;
  group: number;
  port: number;
  /** 0: any source */
  source: number;
}

interface Entry {
  any: number;
  bySource: Map<number, number> | null;
}

export class MatchTable {
  private readonly byInput: Map<number, Entry>[] = [];

  constructor(rules: MatchRule[]) {
    for (const r of rules) {
      const m = (this.byInput[r.input] ??= new Map());
      const key = r.group * 65536 + r.port;
      let e = m.get(key);
      if (!e) m.set(key, (e = { any: -1, bySource: null }));
      if (r.source === 0) e.any = r.no;
      else (e.bySource ??= new Map()).set(r.source, r.no);
    }
  }

  lookup(input: number, dst: number, dport: number, src: number): number {
    const m = this.byInput[input];
    if (m === undefined) return -1;
    const e = m.get(dst * 65536 + dport);
    if (e === undefined) return -1;
    if (e.bySource !== null) {
      const r = e.bySource.get(src);
      if (r !== undefined) return r;
    }
    return e.any;
  }
}
