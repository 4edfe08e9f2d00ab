// A throw-away PostgreSQL server for tests: Debian's postgresql binaries, a cluster in a temp dir,
// listening only on a Unix socket in that dir (no TCP). As root the server runs as user postgres.
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPostgres {
  /** postgresql://postgres@/mcrelay_test?host=<socket dir> */
  url: string;
  /** Creates another empty database on the same server and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server as an outage would (its clients are cut off), keeping its data. */
  pause(): void;
  /** Starts it again after pause(), on the same socket and data. */
  resume(): void;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length) {
    throw new Error(
      "tests need a PostgreSQL server: the Debian package `postgresql` is not installed (no /usr/lib/postgresql/<ver>/bin/initdb); run scripts/setup.sh or apt-get install postgresql",
    );
  }
  return join(root, versions[0]!, "bin");
}

function idOf(flag: "-u" | "-g", user: string): number {
  const r = spawnSync("id", [flag, user], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`no user "${user}" (the postgresql package creates it): ${r.stderr.trim()}`);
  return Number(r.stdout.trim());
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = binDir();
  const asRoot = process.getuid?.() === 0;
  // initdb and postgres refuse to run as root. /tmp rather than $TMPDIR: the postgres user must
  // reach the dir, and a socket path is limited to 107 bytes.
  const dir = mkdtempSync(join(asRoot ? "/tmp" : tmpdir(), "mcrelay-pg-"));
  if (asRoot) chownSync(dir, idOf("-u", "postgres"), idOf("-g", "postgres"));
  // The socket lives here and the relay's API connects as an unprivileged user; the data
  // directory inside stays 0700.
  chmodSync(dir, 0o755);
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  const run = (cmd: string, args: string[]) => {
    const argv = asRoot ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", join(bin, cmd), ...args] : [join(bin, cmd), ...args];
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0) {
      const serverLog = existsSync(log) ? `\n${readFileSync(log, "utf8").slice(-2000)}` : "";
      throw new Error(`${cmd} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr || r.stdout}${serverLog}`);
    }
  };
  let started = false;
  const stopNow = () => {
    if (started) {
      started = false;
      try {
        run("pg_ctl", ["stop", "-D", data, "-m", "immediate", "-w"]);
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A test runner that exits early, or is interrupted, still stops the server.
  const onSignal = (sig: NodeJS.Signals) => {
    stopNow();
    unhook();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  const unhook = () => {
    process.removeListener("exit", stopNow);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  };
  process.once("exit", stopNow);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const host = encodeURIComponent(dir);
  const urlFor = (db: string) => `postgresql://postgres@/${db}?host=${host}`;
  try {
    run("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]);
    const opts = `-c listen_addresses='' -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
    const start = () => {
      started = true;
      run("pg_ctl", ["start", "-D", data, "-l", log, "-w", "-t", "60", "-o", opts]);
    };
    start();
    const createDatabase = async (name: string) => {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name "${name}"`);
      run("createdb", ["-h", dir, "-U", "postgres", name]);
      return urlFor(name);
    };
    const url = await createDatabase("mcrelay_test");
    return {
      url,
      createDatabase,
      pause: () => {
        // fast: sessions are terminated (as a crash or a restart cuts them), the data stays.
        run("pg_ctl", ["stop", "-D", data, "-m", "fast", "-w"]);
        started = false;
      },
      resume: start,
      stop: async () => {
        unhook();
        stopNow();
      },
    };
  } catch (e) {
    unhook();
    stopNow();
    throw e;
  }
}
