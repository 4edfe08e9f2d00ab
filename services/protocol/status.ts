// <state-dir>/status.json: what the supervisor runs, for tools and tests (written atomically).
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openSegment } from "../../shm/segment.ts";
import { collectStats, type Stats } from "../../shm/stats.ts";

/** active: forwarding; waiting: an interface is missing; down: its input, or every output, is down. */
export const RULE_STATES = ["active", "waiting", "down"] as const;
export type RuleState = (typeof RULE_STATES)[number];

export interface Status {
  state: "starting" | "ready" | "stopping";
  /** counts changes of this status (rules applied, states changed, workers replaced) */
  version: number;
  pid: number;
  /** this relay's name in a fleet (--node) and when it started */
  node?: string;
  startedAt?: string;
  shm: string;
  workers: { role: "ingress" | "egress"; index: number; pid: number; restarts: number }[];
  /** outputRows: each output's counter row (by its place in the rule's outputs; -1: none) */
  rules: { no: number; id: string; name?: string; ifname?: string; state: RuleState; reason?: string; outputRows?: number[] }[];
  /** channels: the rule numbers (counter rows) of each direction, its own and each flow's, in order */
  links?: LinkStatusEntry[];
  api: { pid: number; listen: string } | null;
  /** multicast memberships per input interface: held, and failed (retried) */
  joins: { ifname: string; joined: number; failed: number }[];
  /** how many rules the relay can hold (--max-rules) */
  maxRules?: number;
  /** the rules file was reloaded and the API has not imported it yet */
  fileRulesPending?: boolean;
  updatedAt: string;
}

export interface LinkStatusEntry {
  id: string;
  name?: string;
  a: string;
  b: string;
  state: RuleState;
  reason?: string;
  channels: { aToB: LinkChannels; bToA: LinkChannels };
}

export interface LinkChannels {
  /** frames no flow matched */
  no: number;
  flows: { name: string; no: number }[];
}

/** Where a relay keeps its state unless told otherwise, and where tools look for it. */
export const DEFAULT_STATE_DIR = "/var/lib/mcrelay";

export const statusPath = (stateDir: string) => join(stateDir, "status.json");

/** Writes status.json whole (a reader never sees half of it); returns its size in bytes. */
export function writeStatus(stateDir: string, s: Status): number {
  const p = statusPath(stateDir);
  const text = JSON.stringify(s, null, 2) + "\n";
  writeFileSync(p + ".tmp", text, { mode: 0o644 });
  renameSync(p + ".tmp", p);
  return text.length;
}

export function readStatus(stateDir: string): Status | null {
  try {
    return JSON.parse(readFileSync(statusPath(stateDir), "utf8")) as Status;
  } catch {
    return null;
  }
}

/** A local relay's counters, read from its segment without asking it (rule names from status.json). */
export function readStats(stateDir: string): Stats {
  const st = readStatus(stateDir);
  if (!st) throw new Error(`no relay runs with state directory ${stateDir} (no status.json)`);
  return collectStats(openSegment(st.shm), st.rules, st.links ?? []);
}
