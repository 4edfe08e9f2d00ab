// The relay that carries the link: `mcrelay start --no-api` in the host's namespace, with a state
// directory of its own. It runs in a session of its own, so a Ctrl-C in the terminal goes to
// COMMAND and not to it (shape stops it when the run ends), and with a parent-death signal, so
// that it stops even if shape is killed with SIGKILL.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Link } from "../../rules/link.ts";
import { readStats, readStatus } from "../../services/protocol/status.ts";
import { removeSegment, segmentName } from "../../shm/segment.ts";
import type { LinkStats } from "../../shm/stats.ts";
import { killPids } from "../netns.ts";
import { BUN, ROOT, collect } from "../procs.ts";

export class RelayFailed extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

export const makeStateDir = () => mkdtempSync(join(tmpdir(), "mcrelay-shape-"));

export class ShapeRelay {
  readonly proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  private readonly out: ReturnType<typeof collect>;
  private readonly err: ReturnType<typeof collect>;

  constructor(readonly stateDir: string, link: Link) {
    const cfg = join(stateDir, "rules.json");
    writeFileSync(cfg, JSON.stringify({ links: [link] }, null, 2));
    this.proc = Bun.spawn(["setsid", "setpriv", "--pdeathsig", "TERM", "--", BUN, join(ROOT, "bin", "mcrelay.ts"), "start",
      "--config", cfg, "--state-dir", stateDir, "--no-api", "--workers", "1"], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    this.out = collect(this.proc.stdout);
    this.err = collect(this.proc.stderr);
  }

  /** Its last log lines, for a failure's message. */
  tail(lines = 8): string {
    return (this.out.text() + this.err.text()).trim().split("\n").slice(-lines).join("\n");
  }

  /** Resolves once the link forwards (both ends up); throws RelayFailed if the relay exits first
   *  or takes over 20 s. `stop` ends the wait early (a signal). */
  async ready(stop: () => boolean): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const st = readStatus(this.stateDir);
      if (st?.state === "ready" && st.pid === this.proc.pid && st.links?.[0]?.state === "active") return;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        await Promise.race([Promise.all([this.out.done, this.err.done]), Bun.sleep(200)]);
        // Its exit code 2 is a configuration it refused: shape's too.
        throw new RelayFailed(`the relay exited (${this.proc.exitCode ?? this.proc.signalCode}) before the link was up:\n${this.tail()}`, this.proc.exitCode === 2 ? 2 : 1);
      }
      if (Date.now() > deadline) throw new RelayFailed(`the relay did not bring the link up within 20 s (${st?.links?.[0]?.reason ?? st?.state ?? "no status"}):\n${this.tail()}`, 1);
      if (stop()) return;
      await Bun.sleep(25);
    }
  }

  /** The link's counters, from the relay's shared memory; null if they cannot be read. */
  counters(): LinkStats | null {
    try {
      return readStats(this.stateDir).links[0] ?? null;
    } catch {
      return null;
    }
  }
}

/** Stops a relay by pid (SIGTERM, SIGKILL after 6 s: it drains and exits within 5 s) and removes
 *  its state directory and, should it have left it, its segment. Synchronous: also for signals. */
export function removeRelay(pid: number | null, stateDir: string): string[] {
  const notes: string[] = [];
  if (pid !== null) killPids([pid], 6000);
  const shm = segmentName(stateDir);
  if (existsSync(`/dev/shm/${shm}`)) {
    removeSegment(shm);
    notes.push(`the relay left /dev/shm/${shm} behind: removed it`);
  }
  rmSync(stateDir, { recursive: true, force: true });
  return notes;
}
