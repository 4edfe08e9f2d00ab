// Holds multicast memberships in the receiving namespace until killed: `members.ts IFNAME:GROUP …`.
// Nothing is bound to the port, so every datagram that arrives reaches UDP and is counted there
// (IgnoredMulti) at the least receive cost, the same for every relay measured.
import { helperMember, helperSocket, ifIndex } from "../../c/inet.ts";
import { parseIpv4 } from "../../rules/ipv4.ts";

const fds: number[] = [];
Bun.argv.slice(2).forEach((a, i) => {
  const [ifname, group] = a.split(":");
  // A socket per 20 groups: net.ipv4.igmp_max_memberships is 20 per socket.
  if (i % 20 === 0) fds.push(helperSocket());
  helperMember(fds.at(-1)!, ifIndex(ifname!), parseIpv4(group!)!, null, true);
});
console.error("ready");
setInterval(() => {}, 1 << 30);
