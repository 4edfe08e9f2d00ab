// Counters of a network namespace, read from the host side without entering it: /proc/<pid>/net/*
// shows the namespace of <pid>, so one idle process per namespace (an "anchor") is enough.
import { readFileSync } from "node:fs";

export interface LinkCounters {
  rxPackets: number;
  rxDropped: number;
  txPackets: number;
}

/** Per interface rx/tx packets of the namespace pid lives in ({} once pid is gone). */
export function linkCounters(pid: number): Record<string, LinkCounters> {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/net/dev`, "utf8");
  } catch {
    return {};
  }
  const out: Record<string, LinkCounters> = {};
  for (const line of text.split("\n").slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    // rx: bytes packets errs drop fifo frame compressed multicast | tx: bytes packets …
    out[m[1]] = { rxPackets: f[1], rxDropped: f[3], txPackets: f[9] };
  }
  return out;
}

/**
 * A kernel SNMP counter of pid's namespace from /proc/net/netstat, e.g. TcpExt IPReversePathFilter
 * (packets the reverse-path filter dropped). null when unreadable.
 */
export function netstatCounter(pid: number, group: string, name: string): number | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/net/netstat`, "utf8");
  } catch {
    return null;
  }
  const lines = text.split("\n").filter((l) => l.startsWith(group + ":"));
  if (lines.length < 2) return null;
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1);
  const i = names.indexOf(name);
  return i < 0 ? null : Number(values[i]);
}

/** Whether some UDP socket of pid's namespace is bound to port (IPv4). */
export function udpPortBound(pid: number, port: number): boolean {
  try {
    const hex = ":" + port.toString(16).toUpperCase().padStart(4, "0");
    return readFileSync(`/proc/${pid}/net/udp`, "utf8").split("\n").slice(1).some((l) => l.trim().split(/\s+/)[1]?.endsWith(hex));
  } catch {
    return false;
  }
}

/** Interfaces registered as multicast routing VIFs in pid's namespace. */
export function mrouteVifs(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/net/ip_mr_vif`, "utf8").split("\n").slice(1).map((l) => l.trim().split(/\s+/)[1]).filter(Boolean);
  } catch {
    return [];
  }
}
