// The API runs as its own unprivileged process. If it dies it is started again (with backoff);
// forwarding does not depend on it: the workers keep the last applied rules. An API that exits
// with code 2 found its configuration wrong (it says which, on stderr): it is not started again,
// since it would only fail the same way — start-up fails instead, or (later) the relay goes on
// without it and says so.
import { join } from "node:path";
import { SERVICES_ROOT, unprivileged, type RelayUser } from "./workers.ts";
import type { Logger } from "./inputs.ts";

/** The exit code of a process that refuses its configuration. */
export const CONFIG_EXIT = 2;

export interface ApiOptions {
  user: RelayUser;
  listen: string;
  stateDir: string;
  control: string;
  logLevel: string;
  log: Logger & { error(o: object, msg: string): void };
  /** The API exited on a configuration error. */
  onConfigError: (code: number) => void;
}

/** Variables the API may use; nothing else of the supervisor's environment is passed on. */
const PASS_ENV = /^(MCRELAY_API_TOKEN|MCRELAY_LOG_FORMAT|DATABASE_URL|OTEL_.*|TZ)$/;

export class ApiProcess {
  private proc: Bun.Subprocess | null = null;
  private stopping = false;
  private failures = 0;

  constructor(private readonly o: ApiOptions) {}

  get pid(): number {
    return this.proc?.pid ?? 0;
  }

  start(): void {
    const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", MCRELAY_LOG_LEVEL: this.o.logLevel };
    for (const [k, v] of Object.entries(process.env)) if (PASS_ENV.test(k) && v !== undefined) env[k] = v;
    const argv = [process.execPath, join(SERVICES_ROOT, "services", "api", "main.ts"),
      "--listen", this.o.listen, "--state-dir", this.o.stateDir, "--control", this.o.control, "--parent", String(process.pid)];
    const started = Date.now();
    // A group's SIGHUP or SIGINT is the supervisor's (see WORKER_IGNORES); SIGTERM stops the API.
    const p = Bun.spawn(unprivileged(this.o.user, argv, ["HUP", "INT"]), { cwd: SERVICES_ROOT, stdio: ["ignore", "inherit", "inherit"], env });
    this.proc = p;
    p.exited.then((code) => {
      if (this.stopping || this.proc !== p) return;
      if (code === CONFIG_EXIT) {
        this.o.log.error({ pid: p.pid, code }, "the API refused its configuration (its message is above); not restarting it");
        this.proc = null;
        this.o.onConfigError(code);
        return;
      }
      // A crash loop backs off up to 10 s; a process that ran a while starts again at once.
      this.failures = Date.now() - started > 30_000 ? 0 : this.failures + 1;
      const delay = Math.min(10_000, this.failures <= 1 ? 200 : 500 * 2 ** (this.failures - 2));
      this.o.log.error({ pid: p.pid, code, signal: p.signalCode, restartInMs: delay }, "API exited; restarting it");
      setTimeout(() => !this.stopping && this.start(), delay);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill("SIGTERM");
    const done = await Promise.race([p.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
    if (!done) p.kill("SIGKILL");
  }

  kill(): void {
    this.stopping = true;
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
  }
}
