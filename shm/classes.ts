// Traffic classes from DSCP (seed D13): what the relay favours when it cannot forward everything.

export const EXPEDITED = 2; // EF (46), CS5–CS7, VOICE-ADMIT: latency-critical
export const ASSURED = 1; // AF11–AF43 and CS1–CS4
export const BEST_EFFORT = 0;

export function classOf(dscp: number): number {
  if (dscp === 46 || dscp === 44 || dscp >= 40) return EXPEDITED;
  if (dscp >= 8) return ASSURED;
  return BEST_EFFORT;
}

/** Share of the pool a class may not take: best effort stops at 70% used, assured at 90%. */
export const RESERVE = [0.3, 0.1, 0] as const;

/** Egress serves the classes in rounds of this many packets each: nothing starves. */
export const WEIGHTS = [1, 4, 8] as const;
