// The state directory: claimed at start (a live relay there refuses us; a dead one's leftovers
// are removed), status.json kept current for tools, everything removed at stop. A write that
// fails (a full disk: ENOSPC) is reported with the path and never stops the relay from stopping.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openSegment, removeSegment, segmentName } from "../../shm/segment.ts";
import { statusPath, writeStatus, type Status } from "../protocol/status.ts";

export interface StateLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}

/** A killed process stays in /proc as a zombie until its parent reaps it: that is not alive. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** "ENOSPC (no space left on device) writing /x/status.json" from a failed write. */
export function describeWriteError(e: unknown, path: string): string {
  const code = (e as { code?: string }).code;
  return `${code ?? "error"} writing ${path}: ${(e as Error).message}`;
}

/** A status.json this small is written at once on every change (~1,500 rules; 16,384 are
 *  ~2 MiB). By size, not by how long the last write took: on a loaded host a timed threshold
 *  made small files lag the answers too, and "answered, so status.json says so" held only
 *  when the host was idle. */
const CHEAP_BYTES = 256 * 1024;

export class StateDir {
  private readonly pidFile: string;
  private statusTimer: Timer | null = null;
  private statusNext: (() => Status) | null = null;
  private lastWriteError = "";
  private lastWriteBytes = 0;

  constructor(readonly dir: string, private readonly log: StateLog) {
    this.pidFile = join(dir, "supervisor.pid");
  }

  /** Makes the directory ours; throws when another live relay uses it. */
  claim(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    // The unprivileged API keeps its files in <state-dir>/api: it must be able to pass through.
    const mode = statSync(this.dir).mode & 0o777;
    if ((mode & 0o001) === 0) {
      chmodSync(this.dir, mode | 0o011);
      this.log.info({ stateDir: this.dir, mode: (mode | 0o011).toString(8) }, "state directory made traversable for the relay user");
    }
    if (existsSync(this.pidFile)) {
      const pid = Number(readFileSync(this.pidFile, "utf8"));
      if (pid > 0 && pid !== process.pid && processAlive(pid)) throw new Error(`another relay (pid ${pid}) uses the state directory ${this.dir}`);
    }
    // A predecessor that was killed leaves its segment behind; its header names its supervisor.
    const name = segmentName(this.dir);
    if (existsSync(`/dev/shm/${name}`)) {
      let owner = 0;
      try {
        owner = openSegment(name).layout.supervisorPid;
      } catch {
        // unreadable or half-written: not a live relay's
      }
      if (owner > 0 && owner !== process.pid && processAlive(owner)) throw new Error(`another relay (pid ${owner}) uses the state directory ${this.dir}`);
      this.log.warn({ shm: name, owner }, "removing the segment a dead relay left behind");
      removeSegment(name);
    }
    try {
      writeFileSync(this.pidFile, String(process.pid) + "\n");
      // A killed predecessor's status.json would claim "ready": replace it before anything else.
      writeStatus(this.dir, { state: "starting", version: 0, pid: process.pid, shm: "", workers: [], rules: [], api: null, joins: [], updatedAt: new Date().toISOString() });
    } catch (e) {
      throw new Error(`cannot use the state directory: ${describeWriteError(e, this.dir)}`);
    }
  }

  /** Writes status.json now. A failure is logged (once per kind) and the relay goes on. */
  writeNow(s: Status): boolean {
    try {
      this.lastWriteBytes = writeStatus(this.dir, s);
      this.lastWriteError = "";
      return true;
    } catch (e) {
      const why = describeWriteError(e, statusPath(this.dir));
      if (why !== this.lastWriteError) this.log.error({ err: why }, "status.json not written");
      this.lastWriteError = why;
      return false;
    }
  }

  /** Writes status.json after a change: at once while that is cheap (so it is current when a
   *  change is answered); when it is not (16,384 rules are ~2 MiB), a burst of changes makes
   *  one write. */
  written(s: () => Status): void {
    if (this.lastWriteBytes < CHEAP_BYTES) {
      if (this.statusTimer) clearTimeout(this.statusTimer);
      this.statusTimer = null;
      this.writeNow(s());
    } else this.writeSoon(s);
  }

  /** Writes status.json soon: many changes in a burst make one write. */
  writeSoon(s: () => Status, delayMs = 200): void {
    this.statusNext = s;
    this.statusTimer ??= setTimeout(() => {
      this.statusTimer = null;
      const next = this.statusNext;
      this.statusNext = null;
      if (next) this.writeNow(next());
    }, delayMs);
  }

  /** Removes what the relay made here. Never throws: stop must always complete. */
  cleanup(): void {
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = null;
    for (const f of [statusPath(this.dir), this.pidFile, join(this.dir, "control.sock")]) {
      try {
        rmSync(f, { force: true });
      } catch (e) {
        this.log.warn({ err: describeWriteError(e, f) }, "could not remove a state file");
      }
    }
  }
}
