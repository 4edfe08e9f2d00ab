// What a shape run made and changed on the host, written down *before* each step, so that its own
// exit — or, when it was killed with SIGKILL, the next run — undoes exactly that and nothing else.
// One file per run in /run/mcrelay-shape/ (a tmpfs: a reboot removes what the files describe too).
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const JOURNAL_DIR = "/run/mcrelay-shape";

/** A process, by pid and start time: a pid the kernel gave to someone else since is never taken for ours. */
export interface ProcRef {
  pid: number;
  start: string;
}

/** How to undo one change: a command; rules shape put into a chain of someone else's table,
 *  found again by their comment (their handles are known only after they are made); or an nftables
 *  table that iptables made for shape's rule, deleted if no rule is left in it. */
export type Undo =
  | { argv: string[] }
  | { taggedRules: { family: string; table: string; chain: string; tag: string } }
  | { emptyTable: { family: string; table: string } };

export interface Journal {
  id: string;
  owner: ProcRef;
  /** the network namespace shape runs in (its inode): veths, NAT and forwarding are that namespace's */
  hostNetns: number;
  /** the namespace COMMAND runs in */
  ns?: string;
  /** host-side interfaces made (one end of each veth; the other goes with it) */
  ifaces: string[];
  /** NAT and firewall changes, in the order made */
  undo: Undo[];
  /** /etc/netns/<ns> (a resolv.conf for the namespace), and whether /etc/netns was made too */
  resolv?: { dir: string; madeParent: boolean };
  stateDir?: string;
  relay?: ProcRef;
}

/** /proc/<pid>/stat's start time (field 22), or null when there is no such process or it is a zombie. */
export function procStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return f[0] === "Z" ? null : f[19]!;
  } catch {
    return null;
  }
}

export const procRef = (pid: number): ProcRef => ({ pid, start: procStart(pid) ?? "" });
export const isAlive = (p: ProcRef): boolean => procStart(p.pid) === p.start;

/** The network namespace this process is in. */
export const currentNetns = (): number => statSync("/proc/self/ns/net").ino;

const file = (id: string) => join(JOURNAL_DIR, `run-${id}.json`);

export function writeJournal(j: Journal): void {
  mkdirSync(JOURNAL_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(file(j.id) + ".tmp", JSON.stringify(j, null, 2) + "\n", { mode: 0o600 });
  renameSync(file(j.id) + ".tmp", file(j.id));
}

export function removeJournal(id: string): void {
  rmSync(file(id), { force: true });
}

export function journalExists(id: string): boolean {
  return existsSync(file(id));
}

/** Every run's journal (unreadable ones are skipped: a half-written file is only ever a .tmp). */
export function readJournals(): Journal[] {
  let names: string[];
  try {
    names = readdirSync(JOURNAL_DIR);
  } catch {
    return [];
  }
  return names.filter((n) => /^run-[0-9a-f]+\.json$/.test(n)).flatMap((n) => {
    try {
      return [JSON.parse(readFileSync(join(JOURNAL_DIR, n), "utf8")) as Journal];
    } catch {
      return [];
    }
  });
}

const LOCK = join(JOURNAL_DIR, "lock");
let depth = 0;

/** Runs fn while holding /run/mcrelay-shape/lock (re-entrant), so that two runs never pick the
 *  same subnet, nor one restore forwarding while another turns it on. A dead holder's lock is taken over. */
export function withLock<T>(fn: () => T): T {
  if (depth > 0) {
    depth++;
    try {
      return fn();
    } finally {
      depth--;
    }
  }
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      // Made again each time: the last run to leave removes the directory.
      mkdirSync(JOURNAL_DIR, { recursive: true, mode: 0o700 });
      closeSync(openSync(LOCK, "wx", 0o600));
      writeFileSync(LOCK, JSON.stringify(procRef(process.pid)));
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") continue;
      if (code !== "EEXIST") throw e;
      let holder: ProcRef | null = null;
      try {
        holder = JSON.parse(readFileSync(LOCK, "utf8"));
      } catch {}
      // A lock with no holder in it is one being written: it is stale only if that takes seconds.
      const age = Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (holder ? !isAlive(holder) : age > 2000) rmSync(LOCK, { force: true });
      else if (Date.now() > deadline) throw new Error(`${LOCK} is held by process ${holder?.pid ?? "?"} (another mcrelay shape) for over 10 s`);
      else Bun.sleepSync(20);
    }
  }
  depth = 1;
  try {
    return fn();
  } finally {
    depth = 0;
    rmSync(LOCK, { force: true });
    try {
      rmdirSync(JOURNAL_DIR); // only when no run (nor forwarding record) is left in it
    } catch {}
  }
}
