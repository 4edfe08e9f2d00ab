// Run inside the namespace by `ip netns exec` — sysctls and ethtool act on the caller's namespace:
//   bun lab/shape/inside.ts IFNAME PING_GROUP_RANGE
// IPv6 off before the interface is up (no link-local address, router solicitation or MLD report
// ever crosses the link); TX checksum, TSO and GSO off, so that every frame it sends is one wire
// frame that the link delays, drops or counts as one; ping for the groups the host allows it to.
import { existsSync, writeFileSync } from "node:fs";
import { setOffload } from "../../c/ethtool.ts";

const [ifname, pingGroups] = process.argv.slice(2);
if (!ifname || !pingGroups) throw new Error("usage: inside.ts IFNAME PING_GROUP_RANGE");
if (existsSync("/proc/sys/net/ipv6")) {
  for (const k of ["all", "default", "lo", ifname]) writeFileSync(`/proc/sys/net/ipv6/conf/${k}/disable_ipv6`, "1");
}
for (const feature of ["tx", "tso", "gso"] as const) setOffload(ifname, feature, false);
writeFileSync("/proc/sys/net/ipv4/ping_group_range", pingGroups);
