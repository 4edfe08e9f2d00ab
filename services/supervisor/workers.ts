// Starting workers unprivileged and talking to them. A worker is exec'd through setpriv as the
// relay user with no capabilities and no_new_privs, so it never holds privilege at all; the
// sockets it needs arrive over its control channel (fd 3) as SCM_RIGHTS.
//
// Sends never block: a worker that is stopped (SIGSTOP, a debugger) or slow must not stop the
// supervisor, which has to notice and replace it. What the channel does not take waits in an
// outbox, in order, and goes out on the next flush().
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { closeFd } from "../../c/inet.ts";
import { PeerGoneError, recvMessage, sendMessage, socketPair } from "../../c/unixmsg.ts";
import type { FromWorker, ToWorker } from "../protocol/worker.ts";
import { TUNE_ENV, readTune } from "../tune.ts";

const ROOT = join(import.meta.dir, "..", "..");
export const SERVICES_ROOT = ROOT;

export interface RelayUser {
  name: string;
  uid: number;
  gid: number;
}

export function lookupUser(name: string): RelayUser {
  const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.split(":")[0] === name);
  if (!line) throw new Error(`user ${name} does not exist (--user)`);
  const f = line.split(":");
  const uid = Number(f[2]);
  if (uid === 0) throw new Error(`--user ${name} is root: workers must run unprivileged`);
  return { name, uid, gid: Number(f[3]) };
}

/**
 * Signals a worker ignores. One sent to the relay's process group — Ctrl-C, a closed terminal's
 * SIGHUP, `kill -- -PGID` — is the supervisor's to act on (it stops its workers in order, by
 * message); left to their default, it killed the workers mid-stream. The supervisor itself only
 * ever SIGKILLs a worker. (Not setsid: a session of their own is also a scheduler autogroup of
 * their own, and with it tests/hardening.test.ts's killed ingress lost packets on a loaded host.)
 */
export const WORKER_IGNORES = ["HUP", "INT", "TERM"] as const;

/** argv run as user with no capabilities, no supplementary groups and no_new_privs; the signals
 *  in `ignore` set to SIG_IGN first (kept across exec; sh execs in place, so the pid is argv's). */
export function unprivileged(user: RelayUser, argv: string[], ignore: readonly string[] = []): string[] {
  const priv = ["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--inh-caps=-all",
    "--bounding-set=-all", "--no-new-privs", "--", ...argv];
  return ignore.length ? ["sh", "-c", `trap '' ${ignore.join(" ")}; exec "$@"`, "sh", ...priv] : priv;
}

type Unprompted = Extract<FromWorker, { type: "retired" }>;

export class WorkerHandle {
  readonly proc: Bun.Subprocess;
  readonly spawnedAt = Date.now();
  /** Called after messages went out: wakes a worker that sleeps on something else than its channel. */
  onSend: () => void = () => {};
  /** Messages a worker sends without being asked ("retired"). */
  onUnprompted: (m: Unprompted) => void = () => {};
  private readonly sock: number;
  private inbox: FromWorker[] = [];
  private outbox: { msg: ToWorker; fds: number[]; close: boolean }[] = [];
  /** the worker closed its end (or we closed ours) */
  private closed = false;
  private sockOpen = true;

  constructor(readonly role: "ingress" | "egress", readonly index: number, user: RelayUser, logLevel: string) {
    const [mine, theirs] = socketPair();
    this.sock = mine;
    const entry = join(ROOT, "services", role, "main.ts");
    const nice = readTune().nice; // set while still root: lowering it needs CAP_SYS_NICE
    const cmd = [...(nice !== 0 ? ["nice", "-n", String(nice)] : []), ...unprivileged(user, [process.execPath, entry, "--index", String(index)], WORKER_IGNORES)];
    this.proc = Bun.spawn(cmd, {
      cwd: ROOT,
      stdio: ["ignore", "inherit", "inherit", theirs],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", MCRELAY_LOG_LEVEL: logLevel,
        ...(process.env.MCRELAY_TRACING ? { MCRELAY_TRACING: process.env.MCRELAY_TRACING } : {}),
        ...(process.env.MCRELAY_LOG_FORMAT ? { MCRELAY_LOG_FORMAT: process.env.MCRELAY_LOG_FORMAT } : {}),
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => TUNE_ENV.test(k))) },
    });
    closeFd(theirs);
  }

  get pid(): number {
    return this.proc.pid;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Queues a message with its fds; close: the fds are ours to close once they are sent. */
  send(msg: ToWorker, fds: number[] = [], close = false): void {
    this.outbox.push({ msg, fds, close });
    this.flush();
  }

  /** Sends what the channel takes now; the rest waits for the next flush. */
  flush(): void {
    let sent = false;
    while (this.outbox.length && !this.closed && this.alive) {
      const m = this.outbox[0];
      try {
        if (!sendMessage(this.sock, m.msg, m.fds, true)) break;
      } catch (e) {
        if (!(e instanceof PeerGoneError)) throw e;
        this.closed = true; // it exited; what it did not get is dropped with it
        break;
      }
      this.outbox.shift();
      if (m.close) for (const fd of m.fds) closeFd(fd);
      sent = true;
    }
    if (sent) this.onSend();
  }

  /** Reads what the worker sent; unprompted messages go to their handler at once. */
  pump(): void {
    while (!this.closed) {
      const r = recvMessage(this.sock, true);
      if (r === "none") return;
      if (r === "eof") {
        this.closed = true;
        return;
      }
      const m = r.body as FromWorker;
      if (m.type === "retired") this.onUnprompted(m);
      else this.inbox.push(m);
    }
  }

  /** Waits (flushing and polling the channel) for a message of the given type. */
  async expect<T extends FromWorker["type"]>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.flush();
      this.pump();
      const i = this.inbox.findIndex((m) => m.type === type || m.type === "error");
      if (i >= 0) {
        const m = this.inbox.splice(i, 1)[0];
        if (m.type === "error") throw new Error(`${this.role} ${this.index}: ${m.message}`);
        return m as Extract<FromWorker, { type: T }>;
      }
      if (this.closed || !this.alive) {
        throw new Error(`${this.role} ${this.index} (pid ${this.pid}) exited while we waited for "${type}"`);
      }
      if (Date.now() > deadline) throw new Error(`${this.role} ${this.index} did not answer "${type}" within ${timeoutMs} ms`);
      await Bun.sleep(2);
    }
  }

  /** Closes our end; fds still waiting to be sent are closed if they were ours. */
  close(): void {
    for (const m of this.outbox) if (m.close) for (const fd of m.fds) closeFd(fd);
    this.outbox = [];
    if (this.sockOpen) closeFd(this.sock);
    this.sockOpen = false;
    this.closed = true;
  }
}
