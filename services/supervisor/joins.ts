// Multicast memberships of one input interface, held by helper sockets that only join (IGMP
// reports, the NIC's MAC filter; seed D6: AF_PACKET receives the traffic). The kernel lets one
// socket hold net.ipv4.igmp_max_memberships groups (20 by default) and igmp_max_msf sources per
// group, so an input with many groups gets as many helper sockets as it needs. A join that fails
// is remembered with its reason, reported (the rule says so, and a metric), and tried again.
import { readFileSync } from "node:fs";
import { closeFd, helperMember, helperSocket } from "../../c/inet.ts";
import { ErrnoError } from "../../c/lib.ts";
import { formatIpv4 } from "../../rules/ipv4.ts";

function sysctl(name: string, dflt: number): number {
  try {
    return Number(readFileSync(`/proc/sys/net/ipv4/${name}`, "utf8").trim()) || dflt;
  } catch {
    return dflt;
  }
}

/** One (group, source) membership; source 0 = any source. */
export interface Member {
  group: number;
  source: number;
}

const key = (m: Member) => `${m.group}/${m.source}`;

interface Helper {
  fd: number;
  /** group -> sources joined on this socket (0 = any source) */
  groups: Map<number, Set<number>>;
}

export class Memberships {
  private readonly helpers: Helper[] = [];
  /** key -> the helper holding it */
  private readonly joined = new Map<string, Helper>();
  /** key -> why the last join failed */
  readonly failed = new Map<string, string>();

  constructor(readonly ifname: string, readonly ifindex: number) {}

  get count(): number {
    return this.joined.size;
  }

  /** Why this membership is not held, or undefined when it is. */
  problem(group: number, source: number): string | undefined {
    return this.failed.get(`${group}/${source}`);
  }

  /** Leaves what is no longer wanted and joins what is missing (again trying failed joins). */
  update(want: Member[]): void {
    const wanted = new Map(want.map((m) => [key(m), m]));
    for (const [k, h] of this.joined) {
      if (wanted.has(k)) continue;
      const [g, s] = k.split("/").map(Number);
      try {
        helperMember(h.fd, this.ifindex, g, s, false);
      } catch {
        // the group is gone with its interface: nothing to leave
      }
      const srcs = h.groups.get(g)!;
      srcs.delete(s);
      if (srcs.size === 0) h.groups.delete(g);
      this.joined.delete(k);
    }
    for (const k of this.failed.keys()) if (!wanted.has(k)) this.failed.delete(k);
    for (const [k, m] of wanted) if (!this.joined.has(k)) this.join(k, m);
  }

  private join(k: string, m: Member): void {
    const maxGroups = sysctl("igmp_max_memberships", 20);
    const maxSources = sysctl("igmp_max_msf", 10);
    // A socket with room: the group already there (with room for one more source), or room for a group.
    const fits = (h: Helper) => {
      const srcs = h.groups.get(m.group);
      return srcs ? m.source !== 0 && !srcs.has(0) && srcs.size < maxSources : h.groups.size < maxGroups;
    };
    let h = this.helpers.find(fits);
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!h) {
        h = { fd: helperSocket(), groups: new Map() };
        this.helpers.push(h);
      }
      try {
        helperMember(h.fd, this.ifindex, m.group, m.source, true);
        let srcs = h.groups.get(m.group);
        if (!srcs) h.groups.set(m.group, (srcs = new Set()));
        srcs.add(m.source);
        this.joined.set(k, h);
        this.failed.delete(k);
        return;
      } catch (e) {
        // ENOBUFS: this socket is full after all (the limit changed under us): one more try on a new one.
        if (e instanceof ErrnoError && e.code === "ENOBUFS" && attempt === 0) {
          h = undefined;
          continue;
        }
        const code = e instanceof ErrnoError ? e.code : (e as Error).message;
        this.failed.set(k, `joining ${formatIpv4(m.group)}${m.source ? ` from ${formatIpv4(m.source)}` : ""} on ${this.ifname} failed: ${code}`);
        return;
      }
    }
  }

  close(): void {
    for (const h of this.helpers) closeFd(h.fd);
    this.helpers.length = 0;
    this.joined.clear();
    this.failed.clear();
  }
}
