// Counters live in shared memory as float64 (exact to 2^53), one writer each, readable by anyone.

/** Why ingress dropped a frame. Order is part of the layout. */
export const DROP_REASONS = [
  "short_frame", "not_ipv4", "vlan", "ip_truncated", "bad_ihl", "bad_total_length",
  "fragment", "not_udp", "bad_udp_length", "oversize", "no_rule", "outgoing", "rule_down",
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

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
