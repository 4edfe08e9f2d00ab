// Multicast memberships of one input interface, held by helper sockets that only join (IGMP or
// MLD reports, the NIC's MAC filter; seed D6: AF_PACKET receives the traffic). A helper socket is
// of one family. The kernel lets one IPv4 socket hold net.ipv4.igmp_max_memberships groups (20 by
// default) and igmp_max_msf sources per group, and an IPv6 one net.ipv6.mld_max_msf sources per
// group (its groups are bounded by socket memory only: 20 a socket too, so both behave alike), so
// an input with many groups gets as many helper sockets as it needs. A membership with a source
// is source-specific: the kernel reports it as IGMPv3 / MLDv2 INCLUDE {source}. A membership no
// longer wanted is left, which sends the leave report. A join that fails is remembered with its
// reason, reported (the rule says so, and a metric), and tried again.
import { readFileSync } from "node:fs";
import { closeFd, helperMember, helperSocket } from "../../c/inet.ts";
import { ErrnoError } from "../../c/lib.ts";
import { ipFamily, ipValue, type Family } from "../../rules/ip.ts";

function sysctl(name: string, dflt: number): number {
  try {
    return Number(readFileSync(`/proc/sys/net/${name}`, "utf8").trim()) || dflt;
  } catch {
    return dflt;
  }
}

/** Groups per socket and sources per group, by family (read at each join: they may change). */
const LIMITS = {
  4: () => ({ groups: sysctl("ipv4/igmp_max_memberships", 20), sources: sysctl("ipv4/igmp_max_msf", 10) }),
  6: () => ({ groups: 20, sources: sysctl("ipv6/mld_max_msf", 64) }),
} as const;

/** One (group, source) membership, canonical text; source "" = any source. */
export interface Member {
  group: string;
  source: string;
}

const key = (m: Member) => `${m.group}/${m.source}`;

interface Helper {
  fd: number;
  family: Family;
  /** group -> sources joined on this socket ("" = any source) */
  groups: Map<string, Set<string>>;
}

export class Memberships {
  private readonly helpers: Helper[] = [];
  /** key -> the helper holding it, and the membership */
  private readonly joined = new Map<string, { h: Helper; m: Member }>();
  /** key -> why the last join failed */
  readonly failed = new Map<string, string>();

  constructor(readonly ifname: string, readonly ifindex: number) {}

  get count(): number {
    return this.joined.size;
  }

  /** Why this membership is not held, or undefined when it is. */
  problem(group: string, source: string): string | undefined {
    return this.failed.get(key({ group, source }));
  }

  /** Leaves what is no longer wanted and joins what is missing (again trying failed joins). */
  update(want: Member[]): void {
    const wanted = new Map(want.map((m) => [key(m), m]));
    for (const [k, { h, m }] of this.joined) {
      if (wanted.has(k)) continue;
      try {
        helperMember(h.fd, this.ifindex, ipValue(m.group), m.source ? ipValue(m.source) : null, false);
      } catch {
        // the group is gone with its interface: nothing to leave
      }
      const srcs = h.groups.get(m.group)!;
      srcs.delete(m.source);
      if (srcs.size === 0) h.groups.delete(m.group);
      this.joined.delete(k);
    }
    for (const k of this.failed.keys()) if (!wanted.has(k)) this.failed.delete(k);
    for (const [k, m] of wanted) if (!this.joined.has(k)) this.join(k, m);
  }

  private join(k: string, m: Member): void {
    const family = ipFamily(m.group) as Family;
    const limit = LIMITS[family]();
    // A socket with room: the group already there (with room for one more source), or room for a group.
    const fits = (h: Helper) => {
      if (h.family !== family) return false;
      const srcs = h.groups.get(m.group);
      return srcs ? m.source !== "" && !srcs.has("") && srcs.size < limit.sources : h.groups.size < limit.groups;
    };
    let h = this.helpers.find(fits);
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!h) {
        h = { fd: helperSocket(family), family, groups: new Map() };
        this.helpers.push(h);
      }
      try {
        helperMember(h.fd, this.ifindex, ipValue(m.group), m.source ? ipValue(m.source) : null, true);
        let srcs = h.groups.get(m.group);
        if (!srcs) h.groups.set(m.group, (srcs = new Set()));
        srcs.add(m.source);
        this.joined.set(k, { h, m });
        this.failed.delete(k);
        return;
      } catch (e) {
        // ENOBUFS (IPv4) or ENOMEM (IPv6's socket memory): this socket is full after all (the
        // limit changed under us): one more try on a new one.
        if (e instanceof ErrnoError && (e.code === "ENOBUFS" || e.code === "ENOMEM") && attempt === 0) {
          h = undefined;
          continue;
        }
        const code = e instanceof ErrnoError ? e.code : (e as Error).message;
        this.failed.set(k, `joining ${m.group}${m.source ? ` from ${m.source}` : ""} on ${this.ifname} failed: ${code}`);
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
