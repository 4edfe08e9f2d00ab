// make install as an operator uses it: `mcrelay` on PATH from any directory, a unit that
// systemd-analyze accepts, a relay that forwards under exactly the unit's capabilities (and its
// no_new_privs) and comes back after a crash on the same state directory, and make uninstall
// leaving nothing it added. Everything is installed under a temporary directory (the Makefile's
// MCRELAY_HOME, BINDIR, CONFDIR, UNITDIR); the relay runs in throw-away namespaces.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../lab/netns.ts";
import { readStatus } from "../services/protocol/status.ts";
import { segmentName } from "../shm/segment.ts";
import { ROOT, collect, runGen, startSink } from "./lib/relay.ts";

let tmp: string;
let dirs: { MCRELAY_HOME: string; BINDIR: string; CONFDIR: string; UNITDIR: string };
const make = (target: string) =>
  Bun.spawnSync(["make", "-s", target, ...Object.entries(dirs).map(([k, v]) => `${k}=${v}`)], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
const files = (d: string): string[] => (existsSync(d) ? readdirSync(d, { recursive: true }).map(String).sort() : []);

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "mcrelay-install-"));
  chmodSync(tmp, 0o755);
  dirs = { MCRELAY_HOME: join(tmp, "opt", "mcrelay"), BINDIR: join(tmp, "bin"), CONFDIR: join(tmp, "etc", "mcrelay"), UNITDIR: join(tmp, "units") };
  for (const d of [join(tmp, "opt"), dirs.BINDIR, dirs.UNITDIR]) mkdirSync(d, { recursive: true });
  const r = make("install");
  if (r.exitCode !== 0) throw new Error(`make install failed: ${r.stderr}`);
}, 120_000);
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const unit = () => readFileSync(join(dirs.UNITDIR, "mcrelay.service"), "utf8");
/** "CAP_NET_RAW CAP_KILL" -> ["net_raw", "kill"] */
const unitCaps = () => /^CapabilityBoundingSet=(.*)$/m.exec(unit())![1].trim().split(/\s+/).map((c) => c.replace(/^CAP_/, "").toLowerCase());

describe("make install", () => {
  test("mcrelay is on PATH and works from /", () => {
    const r = Bun.spawnSync(["sh", "-c", "cd / && command -v mcrelay && mcrelay --help && mcrelay rules --help"],
      { env: { PATH: `${dirs.BINDIR}:/usr/bin:/bin:/usr/sbin:/sbin` }, stdout: "pipe", stderr: "pipe" });
    expect({ code: r.exitCode, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" });
    const out = r.stdout.toString();
    expect(out.split("\n")[0]).toBe(join(dirs.BINDIR, "mcrelay"));
    expect(out).toContain("usage: mcrelay <command>");
    expect(out).toContain("mcrelay rules set ID");
    // The command is the installed tree's, not this checkout's.
    expect(readlinkSync(join(dirs.BINDIR, "mcrelay"))).toBe(join(dirs.MCRELAY_HOME, "bin", "mcrelay"));
  });

  test("the tree holds what runs, not tests or dev tools; an empty rules file is installed", () => {
    const home = dirs.MCRELAY_HOME;
    for (const f of ["bin/mcrelay.ts", "services/supervisor/relay.ts", "c/build/libmcrelay.so", "drizzle", "node_modules/.bin/bun", "node_modules/pino-pretty"]) {
      expect([f, existsSync(join(home, f))]).toEqual([f, true]);
    }
    for (const f of ["tests", "bench", "node_modules/typescript", "node_modules/playwright-core", "rules/load.test.ts"]) {
      expect([f, existsSync(join(home, f))]).toEqual([f, false]);
    }
    expect(JSON.parse(readFileSync(join(dirs.CONFDIR, "rules.json"), "utf8"))).toEqual({ rules: [] });
  });

  test("the unit passes systemd-analyze verify and names the installed paths", () => {
    const r = Bun.spawnSync(["systemd-analyze", "verify", join(dirs.UNITDIR, "mcrelay.service")], { stdout: "pipe", stderr: "pipe" });
    expect({ code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() }).toEqual({ code: 0, out: "" });
    const u = unit();
    expect(u).toContain(`ExecStart=${dirs.MCRELAY_HOME}/bin/mcrelay start --config ${dirs.CONFDIR}/rules.json --state-dir /var/lib/mcrelay --user mcrelay`);
    for (const line of ["ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "StateDirectory=mcrelay", "RuntimeDirectory=mcrelay",
      "ProtectSystem=strict", "ProtectHome=yes", "NoNewPrivileges=yes", "KillMode=mixed"]) expect(u).toContain(line);
    expect(unitCaps().sort()).toEqual(["chown", "kill", "net_admin", "net_raw", "setgid", "setpcap", "setuid", "sys_nice"]);
  });
});

describe("the installed relay under the unit's capabilities", () => {
  let lab: Lab;
  let src: string, rly: string, dst: string;
  let state: string;
  beforeAll(() => {
    lab = Lab.create("ins");
    src = lab.ns("src");
    rly = lab.ns("rly");
    dst = lab.ns("dst");
    lab.veth({ ns: src, ifname: "eth0", addr: "10.99.1.2/24" }, { ns: rly, ifname: "in0", addr: "192.168.50.1/24" });
    lab.veth({ ns: rly, ifname: "out0", addr: "10.77.0.1/24" }, { ns: dst, ifname: "eth0", addr: "10.77.0.2/24" });
    lab.sh(src, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
    writeFileSync(join(dirs.CONFDIR, "rules.json"), JSON.stringify({ rules: [{ id: "feed", input: { interface: "in0", group: "239.1.1.1", port: 5000 },
      outputs: [{ interface: "out0", group: "239.2.2.2", port: 6000 }] }] }));
    state = join(tmp, "state");
  });
  afterAll(() => lab?.destroy());

  /** The unit's ExecStart, from /, with its bounding set and no_new_privs (what systemd would do). */
  async function start() {
    const argv = /^ExecStart=(.*)$/m.exec(unit())![1].split(" ").map((a) => (a === "/var/lib/mcrelay" ? state : a));
    const p = lab.spawn(rly, ["setpriv", "--inh-caps=-all", `--bounding-set=-all,${unitCaps().map((c) => `+${c}`).join(",")}`, "--no-new-privs",
      ...argv, "--workers", "1", "--api-listen", `unix:${join(state, "api", "http.sock")}`], { cwd: "/" });
    const out = collect(p.stdout);
    const err = collect(p.stderr);
    const deadline = Date.now() + 30_000;
    for (let st = readStatus(state); !(st?.state === "ready" && st.pid === p.pid && existsSync(join(state, "api", "http.sock"))); st = readStatus(state)) {
      if (p.exitCode !== null || Date.now() > deadline) throw new Error(`the installed relay did not start: ${out.text()}${err.text()}`);
      await Bun.sleep(50);
    }
    return { p, logs: () => out.text() + err.text() };
  }

  async function forwards(n: number) {
    const sink = startSink(lab, dst, ["--group", "239.2.2.2", "--port", "6000", "--interface", "eth0", "--expect", String(n)]);
    await sink.ready;
    await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "eth0", "--rate", "2000", "--count", String(n)]);
    return (await sink.result).unique;
  }

  test("forwards, reloads on SIGHUP, its workers hold nothing; after a crash it starts again on the same state", async () => {
    const a = await start();
    expect(await forwards(300)).toBe(300);
    for (const w of readStatus(state)!.workers) {
      const st = readFileSync(`/proc/${w.pid}/status`, "utf8");
      expect(/^CapBnd:\s+(\w+)$/m.exec(st)![1]).toBe("0000000000000000");
      expect(/^CapEff:\s+(\w+)$/m.exec(st)![1]).toBe("0000000000000000");
      expect(/^NoNewPrivs:\s+(\d)$/m.exec(st)![1]).toBe("1");
    }
    process.kill(a.p.pid, "SIGHUP");
    const deadline = Date.now() + 5000;
    while (!a.logs().includes("SIGHUP: rules file reloaded") && Date.now() < deadline) await Bun.sleep(50);
    expect(a.logs()).toContain("SIGHUP: rules file reloaded");

    // Restart=on-failure after a crash: the killed relay's segment and files are in the way.
    process.kill(a.p.pid, "SIGKILL");
    await a.p.exited;
    const b = await start();
    expect(await forwards(300)).toBe(300);
    process.kill(b.p.pid, "SIGTERM");
    expect(await b.p.exited).toBe(0);
    expect(b.logs()).not.toMatch(/(?<!_)\b(EPERM|EACCES)\b/); // an error, not the counters named send_errno_EPERM
    expect(existsSync(`/dev/shm/${segmentName(state)}`)).toBe(false);
    expect(existsSync(join(state, "status.json"))).toBe(false);
  }, 120_000);
});

describe("make uninstall", () => {
  test("removes what install added, and nothing else", () => {
    const r = make("uninstall");
    expect(r.exitCode).toBe(0);
    expect(existsSync(dirs.MCRELAY_HOME)).toBe(false);
    expect(() => lstatSync(join(dirs.BINDIR, "mcrelay"))).toThrow();
    expect(files(dirs.UNITDIR)).toEqual([]);
    // The rules file was changed by the test above: it is the operator's now, and stays.
    expect(files(dirs.CONFDIR)).toEqual(["rules.json"]);
    expect(r.stderr.toString()).toContain(`kept ${join(dirs.CONFDIR, "rules.json")} (it was changed)`);
    expect(files(join(tmp, "opt"))).toEqual([]);
  });
});
