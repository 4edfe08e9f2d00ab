// Rule numbers: a rule's row in the counters and its index in the workers' tables, one per rule
// id while the rule exists. A deleted rule's number is held until no packet of it can still be in
// a worker (the data plane says when: every egress has retired it); then its counter rows are
// zeroed and it is free. So --max-rules bounds the rules that exist, not those made since start.

export class RuleNumbers {
  private readonly byId = new Map<string, number>();
  private readonly free: number[] = [];
  private next = 0;
  private held = 0;

  constructor(readonly max: number) {}

  /** The number of a rule that exists. */
  get(id: string): number | undefined {
    return this.byId.get(id);
  }

  /** How many more rules could be added now. */
  get available(): number {
    return this.free.length + (this.max - this.next);
  }

  /** Numbers of deleted rules not yet free. */
  get draining(): number {
    return this.held;
  }

  /** The rule's number, giving it one if it has none; null when every number is taken or held. */
  take(id: string): number | null {
    const n = this.byId.get(id);
    if (n !== undefined) return n;
    const m = this.free.length ? this.free.pop()! : this.next < this.max ? this.next++ : null;
    if (m !== null) this.byId.set(id, m);
    return m;
  }

  /** The rule is gone: its number is held until recycle(). */
  release(id: string): number | undefined {
    const n = this.byId.get(id);
    if (n === undefined) return undefined;
    this.byId.delete(id);
    this.held++;
    return n;
  }

  /** A held number is free again (its counters are zero). */
  recycle(n: number): void {
    this.held--;
    this.free.push(n);
  }
}
