// The Prometheus text format (0.0.4) for many series at once. prom-client keeps the API
// process's own metrics; the data plane's are rendered here, because they are thousands of
// series rebuilt from shared memory at every scrape, and building them through prom-client's
// label maps took 68 ms for 1,000 rules where this takes a few (bench:api).

/** A label value as the text format wants it: backslash, quote and newline escaped. */
export function labelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** `a="x",b="y"`: labels rendered once, to be shared by many samples. */
export function labelText(labels: readonly (readonly [string, string])[]): string {
  let l = "";
  for (const [k, v] of labels) l += `${l ? "," : ""}${k}="${labelValue(v)}"`;
  return l;
}

export class Exposition {
  private readonly parts: string[] = [];
  private readonly common: string;

  /** common: labels every sample carries (a fleet's `node`), rendered once. */
  constructor(common: readonly (readonly [string, string])[] = []) {
    this.common = labelText(common);
  }

  /** Starts a metric family: its HELP and TYPE lines. */
  family(name: string, type: "counter" | "gauge" | "histogram", help: string): this {
    this.parts.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}\n# TYPE ${name} ${type}\n`);
    return this;
  }

  /** One sample; labels as [name, value] pairs (values are escaped here). */
  sample(name: string, labels: readonly (readonly [string, string])[], value: number): this {
    return this.sampleWith(name, labelText(labels), value);
  }

  /** One sample with labels already rendered by labelText (a rule's, used for all its series). */
  sampleWith(name: string, labels: string, value: number): this {
    const all = this.common && labels ? `${this.common},${labels}` : this.common || labels;
    this.parts.push(`${name}${all ? `{${all}}` : ""} ${Number.isFinite(value) ? value : value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN"}\n`);
    return this;
  }

  /** A histogram's series for one label set: cumulative `_bucket`s (le: the upper bounds, then
   *  +Inf), `_sum` and `_count`. counts: per bucket, not cumulative, one more than bounds. */
  histogram(name: string, labels: string, bounds: readonly number[], counts: readonly number[], sum: number): this {
    let c = 0;
    const sep = labels ? `${labels},` : "";
    for (let i = 0; i < bounds.length; i++) this.sampleWith(`${name}_bucket`, `${sep}le="${bounds[i]}"`, (c += counts[i]!));
    this.sampleWith(`${name}_bucket`, `${sep}le="+Inf"`, (c += counts[bounds.length]!));
    this.sampleWith(`${name}_sum`, labels, sum);
    return this.sampleWith(`${name}_count`, labels, c);
  }

  text(): string {
    return this.parts.join("");
  }
}
