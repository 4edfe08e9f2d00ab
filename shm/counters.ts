// Counters live in shared memory as float64 (exact to 2^53), one writer each, readable by anyone.
// Their names are in layout.ts; these turn a list of names into indices and a block into an object.

/** name -> index, from a list of names. */
export function indexOf<const N extends readonly string[]>(names: N): { [K in N[number]]: number } {
  const o: Record<string, number> = {};
  names.forEach((n, i) => (o[n] = i));
  return o as { [K in N[number]]: number };
}

/** A read-only snapshot of a counter block as a plain object. */
export function snapshot<N extends readonly string[]>(f: Float64Array, names: N): Record<N[number], number> {
  const o: Record<string, number> = {};
  names.forEach((n, i) => (o[n] = f[i]));
  return o as Record<N[number], number>;
}
