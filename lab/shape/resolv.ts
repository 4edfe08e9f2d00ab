// DNS from inside the namespace. `ip netns exec` uses /etc/netns/<ns>/resolv.conf in place of the
// host's when there is one. Only a host whose resolver listens on loopback (systemd-resolved's
// 127.0.0.53, a local dnsmasq) needs it: the namespace has a loopback of its own, with nothing on it.
import { existsSync, readFileSync } from "node:fs";

const isLoopback = (addr: string) => /^127\./.test(addr) || addr === "::1";

export const nameservers = (conf: string) =>
  conf.split("\n").map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((x): x is string => x !== undefined);

/** What the namespace's resolv.conf should say: null when the host's serves (no loopback
 *  resolver), else the upstream servers systemd-resolved lists, or a problem to report. */
export function namespaceResolv(hostConf: string, resolvedConf: string | null): { conf: string } | { problem: string } | null {
  const host = nameservers(hostConf);
  if (!host.length || !host.every(isLoopback)) return null;
  const upstream = resolvedConf ? nameservers(resolvedConf).filter((a) => !isLoopback(a)) : [];
  if (!upstream.length) return { problem: `the host's resolver is ${host[0]} (loopback), which COMMAND cannot reach from its namespace: names will not resolve there` };
  return { conf: `# mcrelay shape: the host's upstream resolvers (its own listens on ${host[0]}, loopback)\n${upstream.map((a) => `nameserver ${a}`).join("\n")}\n` };
}

const readOr = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : null);

export const hostResolv = () => namespaceResolv(readOr("/etc/resolv.conf") ?? "", readOr("/run/systemd/resolve/resolv.conf"));
