// The state of this namespace's interfaces, as rules need it: exists, carrier up, IPv4 address
// and its subnet's broadcast address, IPv6 address.
import { readdirSync, readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { parseIpv4 } from "../../rules/ipv4.ts";
import { canonicalIp } from "../../rules/ip.ts";

export interface Netdev {
  ifindex: number;
  /** administratively up, with carrier */
  up: boolean;
  /** first IPv4 address, or "" */
  addr: string;
  /** an IPv6 address (global scope before link-local: what raw IPv6 sends put as the source), or "" */
  addr6: string;
  /** broadcast address of that address's subnet (host order), or 0 */
  broadcast: number;
  mtu: number;
  /** its MAC address, "aa:bb:cc:dd:ee:ff" (what raw sends put as the source), "" unless Ethernet */
  mac: string;
}

/** ARPHRD_ETHER: the only link type raw sends build frames for (lo, tun and WireGuard are not). */
const ARPHRD_ETHER = 1;

const IFF_UP = 0x1;
/** The flags file lacks IFF_RUNNING (the kernel derives it from carrier), so carrier comes from
 *  operstate; "unknown" is what devices that do not report carrier (lo, tun) show. */
const CARRIER = new Set(["up", "unknown"]);

function broadcastOf(addr: string, netmask: string): number {
  const a = parseIpv4(addr);
  const m = parseIpv4(netmask);
  if (a === null || m === null || m === 0xffffffff) return 0;
  return (a | ~m) >>> 0;
}

export function readNetdevs(): Map<string, Netdev> {
  const addrs = networkInterfaces();
  const links = new Map<string, Netdev>();
  for (const name of readdirSync("/sys/class/net")) {
    try {
      const read = (f: string) => readFileSync(`/sys/class/net/${name}/${f}`, "utf8").trim();
      const flags = Number(read("flags"));
      const v4 = (addrs[name] ?? []).find((a) => a.family === "IPv4");
      const v6 = (addrs[name] ?? []).filter((a) => a.family === "IPv6");
      const v6addr = (v6.find((a) => !a.address.toLowerCase().startsWith("fe80")) ?? v6[0])?.address ?? "";
      links.set(name, {
        ifindex: Number(read("ifindex")), up: (flags & IFF_UP) !== 0 && CARRIER.has(read("operstate")),
        addr: v4?.address ?? "", addr6: canonicalIp(v6addr.replace(/%.*$/, "")), broadcast: v4 ? broadcastOf(v4.address, v4.netmask) : 0, mtu: Number(read("mtu")),
        mac: Number(read("type")) === ARPHRD_ETHER ? read("address") : "",
      });
    } catch {
      // vanished while we looked: it is missing
    }
  }
  return links;
}

/** An interface's MTU now (0 when it is gone). */
export function readMtu(ifname: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${ifname}/mtu`, "utf8").trim()) || 0;
  } catch {
    return 0;
  }
}
