// The installed unit run by a real systemd: `make install`, then systemd boots in a container
// (systemd-nspawn over this host's own /usr, a throw-away root, no network but loopback) and
// starts, reloads, restarts after a crash and stops mcrelay.service — what `systemctl` does on a
// host. The tree is installed under /opt (not /tmp: the unit has PrivateTmp) and removed after.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./lib/relay.ts";

const ID = Math.floor(Math.random() * 0x10000).toString(16).padStart(4, "0");
const BASE = `/opt/mcrelay-systemd-test-${ID}`;
const dirs = { MCRELAY_HOME: join(BASE, "mcrelay"), BINDIR: join(BASE, "bin"), CONFDIR: join(BASE, "etc"), UNITDIR: join(BASE, "units") };
const MACHINE = `mcrelay-${ID}`;
let nspawn: ChildProcess | null = null;
let boot = "";
let init = 0; // the container's pid 1, as the host sees it

const make = (target: string) =>
  Bun.spawnSync(["make", "-s", target, ...Object.entries(dirs).map(([k, v]) => `${k}=${v}`)], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
/** A command inside the container (all its namespaces). */
function inside(cmd: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(["nsenter", "-t", String(init), "-a", ...cmd],
    { stdout: "pipe", stderr: "pipe", timeout: 30_000, env: { PATH: `${dirs.BINDIR}:/usr/bin:/bin:/usr/sbin:/sbin` } });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}
const systemctl = (...args: string[]) => inside(["systemctl", "--no-pager", ...args]);
const journal = () => inside(["journalctl", "-u", "mcrelay", "-o", "cat", "--no-pager"]).out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
async function until(what: string, ok: () => boolean, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what} not within ${ms} ms\n${systemctl("status", "mcrelay").out}\n${inside(["journalctl", "-u", "mcrelay", "--no-pager"]).out.slice(-3000)}`);
    await Bun.sleep(200);
  }
}
const status = () => {
  const r = inside(["cat", "/var/lib/mcrelay/status.json"]);
  return r.code === 0 ? JSON.parse(r.out) : null;
};
const procStatus = (pid: number) => inside(["cat", `/proc/${pid}/status`]).out;
const field = (st: string, name: string) => new RegExp(`^${name}:\\s+(.*)$`, "m").exec(st)?.[1].trim();

beforeAll(async () => {
  mkdirSync(BASE, { recursive: true });
  const r = make("install");
  if (r.exitCode !== 0) throw new Error(`make install failed: ${r.stderr}`);
  // The container: this host's /usr, an empty root on tmpfs; its users, and the installed files.
  nspawn = spawn("systemd-nspawn", ["--quiet", "--register=no", "--keep-unit", "-D", "/", "--volatile=yes", "-M", MACHINE, "--private-network",
    "--bind-ro=/etc/passwd", "--bind-ro=/etc/group", `--bind-ro=${BASE}`, `--bind-ro=${join(dirs.UNITDIR, "mcrelay.service")}:/etc/systemd/system/mcrelay.service`,
    "-b", "systemd.firstboot=off", "systemd.unit=basic.target"], { stdio: ["ignore", "pipe", "pipe"] });
  nspawn.stdout!.on("data", (d) => (boot += d));
  nspawn.stderr!.on("data", (d) => (boot += d));
  const deadline = Date.now() + 60_000;
  while (!init) {
    if (nspawn.exitCode !== null || Date.now() > deadline) throw new Error(`systemd did not boot in the container:\n${boot}`);
    const kids = Bun.spawnSync(["pgrep", "-P", String(nspawn.pid), "-x", "systemd"]).stdout.toString().trim();
    if (kids) init = Number(kids.split("\n")[0]);
    await Bun.sleep(200);
  }
  await until("the container's systemd running", () => /^(running|degraded)/.test(inside(["systemctl", "is-system-running"]).out));
  // The unit starts after network-online.target; the container has no network to wait for.
  inside(["systemctl", "mask", "--runtime", "systemd-networkd-wait-online.service", "NetworkManager-wait-online.service", "ifupdown-wait-online.service"]);
}, 120_000);

afterAll(async () => {
  if (nspawn && nspawn.exitCode === null) {
    nspawn.kill("SIGTERM"); // halts the container
    await Promise.race([new Promise((r) => nspawn!.on("exit", r)), Bun.sleep(20_000)]);
    if (nspawn.exitCode === null) nspawn.kill("SIGKILL");
  }
  make("uninstall");
  if (existsSync(BASE)) rmSync(BASE, { recursive: true, force: true });
}, 60_000);

describe("mcrelay.service under systemd", () => {
  test("start: active, ready, the supervisor with only the unit's capabilities, workers as mcrelay with none", async () => {
    expect(systemctl("start", "mcrelay").code).toBe(0);
    await until("status.json ready", () => status()?.state === "ready");
    expect(systemctl("is-active", "mcrelay").out.trim()).toBe("active");
    const st = status();
    const main = Number(/MainPID=(\d+)/.exec(systemctl("show", "-p", "MainPID", "mcrelay").out)![1]);
    expect(st.pid).toBe(main);
    const sup = procStatus(main);
    // CAP_CHOWN 0, KILL 5, SETGID 6, SETUID 7, SETPCAP 8, NET_ADMIN 12, NET_RAW 13, SYS_NICE 23
    expect(field(sup, "CapBnd")).toBe((2 ** 0 + 2 ** 5 + 2 ** 6 + 2 ** 7 + 2 ** 8 + 2 ** 12 + 2 ** 13 + 2 ** 23).toString(16).padStart(16, "0"));
    expect(field(sup, "NoNewPrivs")).toBe("1");
    const mcrelayUid = /^mcrelay:x:(\d+):/m.exec(inside(["cat", "/etc/passwd"]).out)![1];
    for (const w of [...st.workers.map((x: any) => x.pid), st.api.pid]) {
      const ws = procStatus(w);
      expect([w, field(ws, "Uid")!.split(/\s+/)[0], field(ws, "CapBnd"), field(ws, "CapEff")]).toEqual([w, mcrelayUid, "0000000000000000", "0000000000000000"]);
    }
    // Idle, the pair is quiet: the supervisor makes its workers real-time (CAP_SYS_NICE; the unit
    // must not RestrictRealtime), SCHED_FIFO being policy 1, field 41 of /proc/PID/stat.
    const policy = (pid: number) => { const s = inside(["cat", `/proc/${pid}/stat`]).out; return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[38]); };
    await until("real-time workers", () => st.workers.every((x: any) => policy(x.pid) === 1), 10_000);
  }, 60_000);

  test("the installed command on PATH, from /, finds the relay through /var/lib/mcrelay", async () => {
    await until("the API", () => inside(["sh", "-c", "cd / && mcrelay rules ls"]).code === 0);
    expect(inside(["sh", "-c", "cd / && mcrelay rules ls"]).out.trim()).toBe("no rules");
  }, 60_000);

  test("reload: one SIGHUP, the rules file re-read; a crash: Restart=on-failure brings it back", async () => {
    expect(systemctl("reload", "mcrelay").code).toBe(0);
    await until("the reload in the journal", () => journal().some((e) => e.msg === "SIGHUP: rules file reloaded"));
    await Bun.sleep(500);
    expect(journal().filter((e) => e.msg === "SIGHUP: rules file reloaded")).toHaveLength(1);

    const before = status().pid;
    expect(systemctl("kill", "--kill-whom=main", "-s", "SIGKILL", "mcrelay").code).toBe(0);
    await until("a new supervisor, ready", () => { const s = status(); return s?.state === "ready" && s.pid !== before; }, 40_000);
    expect(systemctl("is-active", "mcrelay").out.trim()).toBe("active");
  }, 90_000);

  test("stop: the supervisor drains and exits 0; nothing of it is left", async () => {
    expect(systemctl("stop", "mcrelay").code).toBe(0);
    expect(systemctl("is-active", "mcrelay").out.trim()).toBe("inactive");
    const stopped = journal().filter((e) => e.msg === "relay stopped");
    expect(stopped.at(-1)).toMatchObject({ exitCode: 0 });
    expect(journal().filter((e) => e.msg === "second signal: exiting at once")).toEqual([]);
    expect(status()).toBeNull();
    expect(inside(["sh", "-c", "ls /dev/shm | grep -c mcrelay-"]).out.trim()).toBe("0");
  }, 60_000);
});
