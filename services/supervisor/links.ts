// The state of this namespace's interfaces, as rules need it: exists, carrier up, IPv4 address.
import { readdirSync, readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";

export interface Link {
  ifindex: number;
  /** administratively up, with carrier */
  up: boolean;
  /** first IPv4 address, or "" */
  addr: string;
}

const IFF_UP = 0x1;
/** The flags file lacks IFF_RUNNING (the kernel derives it from carrier), so carrier comes from
 *  operstate; "unknown" is what devices that do not report carrier (lo, tun) show. */
const CARRIER = new Set(["up", "unknown"]);

export function readLinks(): Map<string, Link> {
  const addrs = networkInterfaces();
  const links = new Map<string, Link>();
  for (const name of readdirSync("/sys/class/net")) {
    try {
      const flags = Number(readFileSync(`/sys/class/net/${name}/flags`, "utf8").trim());
      const ifindex = Number(readFileSync(`/sys/class/net/${name}/ifindex`, "utf8").trim());
      const addr = (addrs[name] ?? []).find((a) => a.family === "IPv4")?.address ?? "";
      const oper = readFileSync(`/sys/class/net/${name}/operstate`, "utf8").trim();
      links.set(name, { ifindex, up: (flags & IFF_UP) !== 0 && CARRIER.has(oper), addr });
    } catch {
      // vanished while we looked: it is missing
    }
  }
  return links;
}
