// Can the unprivileged relay user get to a path? setpriv clears supplementary groups, so only the
// owner, the user's primary group and "other" bits count. Root-only parents (/root, a mkdtemp
// directory) are the usual culprit: the API would crash-loop on EACCES instead of starting.
import { dirname, resolve } from "node:path";
import { statSync } from "node:fs";

export interface Blocked {
  path: string;
  mode: string;
  uid: number;
}

/** The first existing ancestor of `dir` (not `dir` itself) the user cannot search, or null. */
export function blockedAncestor(dir: string, user: { uid: number; gid: number }): Blocked | null {
  const chain: string[] = [];
  for (let p = dirname(resolve(dir)); ; p = dirname(p)) {
    chain.unshift(p);
    if (p === "/") break;
  }
  for (const p of chain) {
    let st;
    try {
      st = statSync(p);
    } catch {
      return null; // not there yet: the supervisor creates it (as root, 0755)
    }
    const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return { path: p, mode: (st.mode & 0o777).toString(8), uid: st.uid };
  }
  return null;
}
