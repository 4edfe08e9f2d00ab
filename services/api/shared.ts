// An answer computed at most once per moment and shared by everyone who asks meanwhile.

/** fn's result, computed at most once per maxAgeMs (and never twice at once), shared by every
 *  caller in between. A failed computation is not kept. */
export function shared<T>(fn: () => Promise<T>, maxAgeMs: number): () => Promise<T> {
  let at = -Infinity;
  let last: Promise<T> | null = null;
  return () => {
    const now = performance.now();
    if (!last || now - at > maxAgeMs) {
      at = now;
      const p = fn();
      last = p;
      p.catch(() => {
        if (last === p) last = null;
      });
    }
    return last;
  };
}
