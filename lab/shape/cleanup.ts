// Undoing a run from its journal: the same code for a run's own exit and for the leftovers of a run
// that was killed. Every step tolerates what was never made or is gone already, and never throws:
// each problem is returned, so the rest still goes.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { killPids, run } from "../netns.ts";
import { currentNetns, isAlive, readJournals, removeJournal, withLock, type Journal } from "./journal.ts";
import { forwardingRestore } from "./forwarding.ts";
import { undoStep } from "./nat.ts";
import { removeRelay } from "./relay.ts";

/** Processes left in the namespace: COMMAND's children (all of them ours: nothing else enters it). */
function killInside(ns: string): void {
  const pids = run(["ip", "netns", "pids", ns]).stdout.split(/\s+/).filter(Boolean).map(Number);
  if (pids.length) killPids(pids, 1000);
}

const attempt = (problems: string[], what: string, fn: () => void) => {
  try {
    fn();
  } catch (e) {
    problems.push(`${what}: ${(e as Error).message}`);
  }
};

/** Undoes what the journal says, newest first; returns the problems (and notes) met. */
export function undoRun(j: Journal): string[] {
  const problems: string[] = [];
  if (j.ns && existsSync(`/run/netns/${j.ns}`)) attempt(problems, `processes in ${j.ns}`, () => killInside(j.ns!));
  if (j.stateDir) {
    // Only a relay still alive as the very process recorded is ours to stop.
    const pid = j.relay && isAlive(j.relay) ? j.relay.pid : null;
    attempt(problems, "the relay", () => problems.push(...removeRelay(pid, j.stateDir!)));
  }
  if (j.resolv) {
    attempt(problems, j.resolv.dir, () => {
      rmSync(j.resolv!.dir, { recursive: true, force: true });
      if (j.resolv!.madeParent && existsSync("/etc/netns") && readdirSync("/etc/netns").length === 0) rmSync("/etc/netns", { recursive: true });
    });
  }
  for (const u of [...j.undo].reverse()) {
    const p = undoStep(u);
    if (p) problems.push(p);
  }
  if (j.ns) {
    const r = run(["ip", "netns", "del", j.ns]);
    if (r.code !== 0 && existsSync(`/run/netns/${j.ns}`)) problems.push(`ip netns del ${j.ns}: ${r.stderr.trim()}`);
  }
  // Deleting one end of a veth deletes the other; a's other end went with the namespace.
  for (const i of [...j.ifaces].reverse()) {
    if (!existsSync(`/sys/class/net/${i}`)) continue;
    const r = run(["ip", "link", "del", i]);
    if (r.code !== 0 && existsSync(`/sys/class/net/${i}`)) problems.push(`ip link del ${i}: ${r.stderr.trim()}`);
  }
  return problems;
}

const othersLive = (j: Journal) => readJournals().some((o) => o.id !== j.id && o.hostNetns === j.hostNetns && isAlive(o.owner));

/** The run's journal goes, and forwarding is put back if it was the last run in its namespace. */
export function finishRun(j: Journal): string[] {
  return withLock(() => {
    const problems: string[] = [];
    removeJournal(j.id);
    if (!othersLive(j)) attempt(problems, "restoring net.ipv4.ip_forward", () => void forwardingRestore(j.hostNetns));
    return problems;
  });
}

/** With the lock held: the leftovers of runs in this namespace whose shape is dead. */
export function cleanStale(note: (line: string) => void): void {
  const netns = currentNetns();
  for (const j of readJournals()) {
    if (j.hostNetns !== netns || isAlive(j.owner)) continue;
    note(`cleaning up after a shape run that was killed (pid ${j.owner.pid}, namespace ${j.ns ?? "none"})`);
    for (const p of [...undoRun(j), ...finishRun(j)]) note(`  ${p}`);
  }
  // No run left here, but forwarding recorded as turned on: its run died before the journal said so.
  if (!readJournals().some((j) => j.hostNetns === netns && isAlive(j.owner))) forwardingRestore(netns);
}
