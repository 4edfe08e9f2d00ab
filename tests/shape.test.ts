// `mcrelay shape` end to end: real namespaces, the real relay, ping through the link. Most runs are
// in this machine's own network namespace, as a user's would be; the NAT runs are in a stand-in
// host namespace with an upstream beyond it, so the firewall they change is not this machine's:
//   [shape's namespace] ─link─ [stand-in host: forwarding, NAT] up0 198.51.100.2 ── 198.51.100.1 [upstream]
// The upstream has no route back to shape's /30: a reply reaches COMMAND only if it was masqueraded.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab, alive, run } from "../lab/netns.ts";
import { lookupUser } from "../services/supervisor/workers.ts";
import { segmentName } from "../shm/segment.ts";
import { BUN, ROOT, collect } from "./lib/relay.ts";
import { settled } from "./lib/settled.ts";

const JOURNALS = "/run/mcrelay-shape";
const PING_HOST = 'exec ping -n -c 5 -i 0.2 -W 2 "$MCRELAY_SHAPE_HOST"';

/** What a run says it made (-v): its id, namespace, addresses, relay and state dir. */
interface Made {
  id: string;
  ns: string;
  inside: string;
  host: string;
  ifaces: string[];
  relayPid?: number;
  stateDir?: string;
}

function made(stderr: string): Made | null {
  const m = /namespace (mcrelay-shape-([0-9a-f]{6})): eth0 ([\d.]+)\/30, default route via the host side ([\d.]+)/.exec(stderr);
  if (!m) return null;
  const r = /relay pid (\d+), state dir (\S+);/.exec(stderr);
  const id = m[2]!;
  return { id, ns: m[1]!, inside: m[3]!, host: m[4]!, ifaces: [`shp${id}a`, `shp${id}b`, `shp${id}h`],
    relayPid: r ? Number(r[1]) : undefined, stateDir: r?.[2] };
}

interface Done {
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
  made: Made | null;
}

/** shape -v with args, in this namespace or the stand-in host's; its own session (setsid), so a
 *  SIGINT sent to it is not taken for the terminal's (nor does the test's terminal reach it). */
function startShape(args: string[], o: { env?: Record<string, string>; hostNs?: string; verbose?: boolean } = {}) {
  const argv = [...(o.hostNs ? ["ip", "netns", "exec", o.hostNs] : []), "setsid", BUN, join(ROOT, "bin", "mcrelay.ts"), "shape",
    ...(o.verbose === false ? [] : ["-v"]), ...args];
  const proc = Bun.spawn(argv, { cwd: ROOT, env: { ...process.env, ...o.env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const out = collect(proc.stdout);
  const err = collect(proc.stderr);
  const t0 = Date.now();
  const done: Promise<Done> = (async () => {
    const code = await proc.exited;
    await Promise.all([out.done, err.done]);
    return { code: proc.exitCode ?? code, ms: Date.now() - t0, stdout: out.text(), stderr: err.text(), made: made(err.text()) };
  })();
  /** Resolves once COMMAND runs (the relay line is printed just before it starts). */
  const running = async () => {
    const m = await settled(() => made(err.text()), (x) => x?.relayPid !== undefined || proc.exitCode !== null, 25_000);
    if (!m?.relayPid) throw new Error(`shape did not get to COMMAND:\n${err.text()}`);
    return m;
  };
  return { proc, out, err, done, running };
}

const shape = (args: string[], o: Parameters<typeof startShape>[1] = {}) => startShape(args, o).done;

/** A command in this namespace or the stand-in host's; one that is not installed prints nothing. */
function inHost(hostNs: string | undefined, cmd: string[]) {
  if (!Bun.which(cmd[0]!, { PATH: `${process.env.PATH}:/usr/sbin:/sbin` })) return { code: -1, stdout: "", stderr: "" };
  return run(hostNs ? ["ip", "netns", "exec", hostNs, ...cmd] : cmd);
}

const ipForward = (hostNs?: string) => inHost(hostNs, ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.trim();

/** Everything of a run still there: nothing, once it has ended. */
function leftovers(m: Made, forwardingBefore: string, hostNs?: string): string[] {
  const left: string[] = [];
  if (existsSync(`/run/netns/${m.ns}`)) left.push(`namespace ${m.ns}`);
  for (const i of m.ifaces) if (inHost(hostNs, ["ip", "link", "show", "dev", i]).code === 0) left.push(`interface ${i}`);
  if (inHost(hostNs, ["nft", "list", "ruleset"]).stdout.includes(m.id)) left.push("nftables rules or table");
  if (inHost(hostNs, ["iptables-save"]).stdout.includes(m.id)) left.push("iptables rules");
  if (existsSync(`${JOURNALS}/run-${m.id}.json`)) left.push("journal");
  if (existsSync(`/etc/netns/${m.ns}`)) left.push(`/etc/netns/${m.ns}`);
  if (m.stateDir && existsSync(m.stateDir)) left.push(`state dir ${m.stateDir}`);
  if (m.stateDir && existsSync(`/dev/shm/${segmentName(m.stateDir)}`)) left.push(`segment ${segmentName(m.stateDir)}`);
  if (m.relayPid && alive(m.relayPid)) left.push(`relay ${m.relayPid}`);
  const procs = m.stateDir ? run(["pgrep", "-f", m.stateDir]).stdout.trim() : "";
  if (procs) left.push(`processes ${procs}`);
  if (ipForward(hostNs) !== forwardingBefore) left.push(`net.ipv4.ip_forward ${ipForward(hostNs)} (was ${forwardingBefore})`);
  return left;
}

/** Whether COMMAND's `sleep SECONDS` runs (a unique number of seconds names it; anchored, or
 *  the `sh -c '…; sleep SECONDS'` around it would count). */
const asleep = (seconds: string) => run(["pgrep", "-f", `^sleep ${seconds.replace(".", "\\.")}$`]).code === 0;

async function sleeping(seconds: string): Promise<void> {
  expect(await settled(() => asleep(seconds), (x) => x, 5000)).toBe(true);
}

/** ping's replies' round-trip times, in order. */
const rtts = (out: string) => [...out.matchAll(/icmp_seq=\d+ ttl=\d+ time=([\d.]+) ms/g)].map((m) => Number(m[1]));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The -v summary of the link's counters: frames in, out and dropped per way. */
function counters(stderr: string) {
  const m = /link: inside → host (\d+) frames in, (\d+) out, (\d+) dropped; host → inside (\d+) frames in, (\d+) out, (\d+) dropped/.exec(stderr);
  if (!m) throw new Error(`no counters in:\n${stderr}`);
  const n = m.slice(1).map(Number);
  return { aToB: { in: n[0]!, out: n[1]!, dropped: n[2]! }, bToA: { in: n[3]!, out: n[4]!, dropped: n[5]! } };
}

function linkConfig(name: string, link: unknown): string {
  const p = join(tmpdir(), `shape-test-${process.pid}-${name}.json`);
  writeFileSync(p, JSON.stringify(link));
  return p;
}

describe("shape in this host's namespace", () => {
  test("--delay 50: ping's round trip grows by 100 ms (50 each way); nothing is left", async () => {
    const fwd = ipForward();
    const base = await shape(["--", "sh", "-c", PING_HOST]);
    expect(base.code).toBe(0);
    const r = await shape(["--delay", "50", "--", "sh", "-c", PING_HOST]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('aToB (inside → host) {"delayMs":50}, bToA (host → inside) {"delayMs":50}');
    // The first reply also waited for ARP (another round trip through the link).
    const added = median(rtts(r.stdout).slice(1)) - median(rtts(base.stdout).slice(1));
    expect(rtts(r.stdout)).toHaveLength(5);
    expect(added).toBeGreaterThan(97);
    expect(added).toBeLessThan(104);
    for (const x of [base, r]) expect(leftovers(x.made!, fwd)).toEqual([]);
  }, 60_000);

  test("--loss 1: ping gets no reply, and its exit code (1) is shape's", async () => {
    const fwd = ipForward();
    const r = await shape(["--loss", "1", "--", "sh", "-c", 'exec ping -n -c 3 -i 0.2 -W 1 "$MCRELAY_SHAPE_HOST"']);
    expect(r.stdout).toContain("3 packets transmitted, 0 received");
    expect(r.code).toBe(1);
    expect(leftovers(r.made!, fwd)).toEqual([]);
  }, 30_000);

  test("a link config's aToB is inside → host, its bToA host → inside", async () => {
    const fwd = ipForward();
    const out = await shape(["--link-config", linkConfig("out", { aToB: { loss: 1 } }), "--", "sh", "-c", 'exec ping -n -c 3 -i 0.2 -W 1 "$MCRELAY_SHAPE_HOST"']);
    expect(out.code).toBe(1);
    const o = counters(out.stderr);
    // The namespace's ARP requests went in and were dropped (its pings wait for an answer that
    // never comes); the host never heard of it.
    expect(o.aToB.in).toBeGreaterThan(0);
    expect(o.aToB).toEqual({ in: o.aToB.in, out: 0, dropped: o.aToB.in });
    expect(o.bToA).toEqual({ in: 0, out: 0, dropped: 0 });
    const back = await shape(["--link-config", linkConfig("back", { bToA: { loss: 1 } }), "--", "sh", "-c", 'exec ping -n -c 3 -i 0.2 -W 1 "$MCRELAY_SHAPE_HOST"']);
    expect(back.code).toBe(1);
    const b = counters(back.stderr);
    expect(b.aToB).toEqual({ in: b.aToB.in, out: b.aToB.in, dropped: 0 });
    expect(b.bToA.in).toBeGreaterThan(0);
    expect(b.bToA).toEqual({ in: b.bToA.in, out: 0, dropped: b.bToA.in });
    for (const x of [out, back]) expect(leftovers(x.made!, fwd)).toEqual([]);
  }, 30_000);

  test("COMMAND's exit code is shape's: 7 for exit 7, 128+15 for SIGTERM; stdout passes through", async () => {
    const seven = await shape(["--", "sh", "-c", "echo hello; exit 7"], { verbose: false });
    expect(seven).toMatchObject({ code: 7, stdout: "hello\n", stderr: "" });
    expect((await shape(["--", "sh", "-c", "kill -TERM $$"])).code).toBe(143);
  }, 30_000);

  /** shape running COMMAND, which ends in `sleep SECONDS`, gets sig once that sleep runs. */
  async function signalled(command: string[], seconds: string, sig: NodeJS.Signals) {
    const fwd = ipForward();
    const s = startShape(["--", ...command]);
    const m = await s.running();
    await sleeping(seconds); // COMMAND is past anything it sets up (a trap) by then
    const t0 = Date.now();
    s.proc.kill(sig);
    const r = await s.done;
    expect(leftovers(m, fwd)).toEqual([]);
    expect(asleep(seconds)).toBe(false);
    return { code: r.code, ms: Date.now() - t0 };
  }

  test("Ctrl-C (SIGINT to shape) while COMMAND sleeps: exit 130 within seconds, nothing left", async () => {
    const r = await signalled(["sleep", "86399.1"], "86399.1", "SIGINT");
    expect(r.code).toBe(130);
    expect(r.ms).toBeLessThan(4000);
  }, 30_000);

  test("SIGTERM is passed on; a COMMAND that ignores it is killed 3 s later", async () => {
    const r = await signalled(["sh", "-c", 'trap "" TERM; sleep 86399.2'], "86399.2", "SIGTERM");
    expect(r.code).toBe(137);
    expect(r.ms).toBeGreaterThan(2900);
    expect(r.ms).toBeLessThan(8000);
  }, 30_000);

  test("a bad flag or variable: exit 2 within a second, one line naming it, nothing made", async () => {
    const shapeNetns = () => (existsSync("/run/netns") ? readdirSync("/run/netns") : []).filter((n) => n.startsWith("mcrelay-shape-"));
    const before = { netns: shapeNetns(), journals: existsSync(JOURNALS) };
    const cases: [string[], Record<string, string>, string][] = [
      [["--delay", "abc"], {}, "--delay"],
      [["--loss", "2"], {}, "--loss 2: loss must be 0–1"],
      [["--rate", "fast"], {}, "--rate"],
      [["--bogus"], {}, "--bogus"],
      [["--link-config", "/nonexistent.json"], {}, "--link-config /nonexistent.json"],
      [["--link-config", linkConfig("bad", { aToB: { delayMs: 1e6 } })], {}, "aToB.delayMs: delayMs must be 0–10000"],
      [[], { MCRELAY_SHAPE_NAT: "pf" }, "MCRELAY_SHAPE_NAT"],
      [[], { SUDO_UID: "me" }, "SUDO_UID"],
      [[], { MCRELAY_TUNE_RING: "v9" }, "MCRELAY_TUNE_RING"],
    ];
    for (const [flags, env, names] of cases) {
      const r = await shape([...flags, "--", "true"], { env });
      expect(r.code).toBe(2);
      expect(r.ms).toBeLessThan(1000);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(names);
    }
    const missing = await shape(["--", "no-such-command-here"]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain("no-such-command-here: command not found");
    // Not root: said so, exit 2 (as start does).
    const u = lookupUser("mcrelay");
    const p = Bun.spawnSync(["setpriv", `--reuid=${u.uid}`, `--regid=${u.gid}`, "--clear-groups", BUN, join(ROOT, "bin", "mcrelay.ts"), "shape", "--", "true"], { cwd: ROOT, stderr: "pipe" });
    expect(p.exitCode).toBe(2);
    expect(p.stderr.toString()).toContain("shape needs root");
    expect(shapeNetns()).toEqual(before.netns);
    expect(existsSync(JOURNALS)).toBe(before.journals);
  }, 60_000);

  test("under sudo COMMAND runs as the caller (uid, gid, HOME), and can ping", async () => {
    const u = lookupUser("mcrelay");
    const home = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("mcrelay:"))!.split(":")[5];
    const r = await shape(["--", "sh", "-c", 'id -u; id -g; echo "$HOME $USER"; ping -n -c 1 -W 2 "$MCRELAY_SHAPE_HOST" >/dev/null && echo ping-ok'],
      { env: { SUDO_UID: String(u.uid), SUDO_GID: String(u.gid), SUDO_USER: "mcrelay" } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${u.uid}\n${u.gid}\n${home} mcrelay\nping-ok\n`);
  }, 30_000);

  test("the relay failing to start: exit 1 naming it, nothing left", async () => {
    const fwd = ipForward();
    const s = startShape(["--", "sleep", "86399.3"]);
    // Killed as soon as its pid is in the journal, long before the link is up.
    const relay = await settled(() => {
      for (const f of existsSync(JOURNALS) ? readdirSync(JOURNALS) : []) {
        try {
          const j = JSON.parse(readFileSync(join(JOURNALS, f), "utf8"));
          if (j.owner?.pid === s.proc.pid && j.relay) return j.relay.pid as number;
        } catch {}
      }
      return null;
    }, (x) => x !== null, 10_000);
    expect(relay).not.toBeNull();
    process.kill(relay!, "SIGKILL");
    const r = await s.done;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the relay exited (SIGKILL) before the link was up");
    expect(r.made).not.toBeNull();
    expect(leftovers({ ...r.made!, relayPid: relay! }, fwd)).toEqual([]);
    expect(asleep("86399.3")).toBe(false);
  }, 30_000);

  test("the relay dying while COMMAND runs stops COMMAND: exit 1, nothing left", async () => {
    const fwd = ipForward();
    const s = startShape(["--", "sleep", "86399.4"]);
    const m = await s.running();
    process.kill(m.relayPid!, "SIGKILL");
    const r = await s.done;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the relay exited (SIGKILL) while COMMAND ran");
    expect(leftovers(m, fwd)).toEqual([]);
    expect(asleep("86399.4")).toBe(false);
  }, 30_000);

  test("a shape killed with SIGKILL: its relay and COMMAND stop, and the next run removes the rest", async () => {
    const fwd = ipForward();
    const s = startShape(["--", "sleep", "86399.5"]);
    const m = await s.running();
    s.proc.kill("SIGKILL");
    await s.done;
    // The parent-death signal stops both; what they leave is the next run's to remove.
    expect(await settled(() => alive(m.relayPid!) || asleep("86399.5"), (x) => !x, 8000)).toBe(false);
    expect(existsSync(`/run/netns/${m.ns}`)).toBe(true);
    const next = await shape(["--", "true"]);
    expect(next.code).toBe(0);
    expect(next.stderr).toContain(`cleaning up after a shape run that was killed (pid ${s.proc.pid}, namespace ${m.ns})`);
    expect(leftovers(m, fwd)).toEqual([]);
    expect(leftovers(next.made!, fwd)).toEqual([]);
  }, 40_000);

  test("two runs at once: forwarding stays on until the last one ends", async () => {
    const fwd = ipForward();
    const long = startShape(["--", "sleep", "86399.6"]);
    const m = await long.running();
    const short = await shape(["--", "sh", "-c", PING_HOST]);
    expect(short.code).toBe(0);
    expect(short.made!.inside).not.toBe(m.inside);
    expect(ipForward()).toBe("1");
    long.proc.kill("SIGINT");
    expect((await long.done).code).toBe(130);
    expect(leftovers(m, fwd)).toEqual([]);
    expect(leftovers(short.made!, fwd)).toEqual([]);
  }, 40_000);
});

describe("shape's NAT, in a stand-in host namespace", () => {
  let lab: Lab;
  let host: string, up: string;

  beforeAll(() => {
    lab = Lab.create("shp");
    host = lab.ns("host");
    up = lab.ns("up");
    lab.veth({ ns: host, ifname: "up0", addr: "198.51.100.2/24" }, { ns: up, ifname: "eth0", addr: "198.51.100.1/24" });
    lab.sh(host, ["ip", "route", "add", "default", "via", "198.51.100.1"]);
  });

  afterAll(() => lab?.destroy());

  /** COMMAND pings the upstream, then waits; the test reads the host's rules meanwhile, then stops it. */
  async function throughTheHost(env: Record<string, string>, during: (m: Made) => void): Promise<Done> {
    expect(lab.sh(up, ["ip", "route", "get", "10.213.0.1"]).code).not.toBe(0); // no way back but NAT
    const s = startShape(["--delay", "5", "--", "sh", "-c", "ping -n -c 3 -i 0.2 -W 2 198.51.100.1 && echo ping-ok && exec sleep 86399.7"], { hostNs: host, env });
    const m = await s.running();
    await settled(() => s.out.text(), (t) => t.includes("ping-ok") || s.proc.exitCode !== null, 10_000);
    during(m);
    s.proc.kill("SIGTERM");
    const r = await s.done;
    expect(r.stdout).toContain("3 packets transmitted, 3 received");
    expect(r.code).toBe(143);
    return r;
  }

  test("nftables: masqueraded out of the host, ACCEPT rules where a FORWARD chain drops; all undone", async () => {
    lab.sh(host, ["nft", "add", "table", "ip", "filter"]);
    lab.sh(host, ["nft", "add", "chain", "ip", "filter", "FORWARD", "{ type filter hook forward priority 0; policy drop; }"]);
    const before = lab.sh(host, ["nft", "list", "ruleset"]).stdout;
    const fwd = ipForward(host);
    const r = await throughTheHost({}, (m) => {
      const during = lab.sh(host, ["nft", "list", "ruleset"]).stdout;
      expect(during).toContain(`table ip mcrelay_shape_${m.id}`);
      expect(during).toContain(`oifname != "shp${m.id}h" masquerade`);
      expect(during).toContain(`iifname "shp${m.id}h" accept comment "mcrelay-shape-${m.id}"`);
      expect(during).toContain(`oifname "shp${m.id}h" accept comment "mcrelay-shape-${m.id}"`);
      expect(ipForward(host)).toBe("1");
    });
    expect(lab.sh(host, ["nft", "list", "ruleset"]).stdout).toBe(before);
    expect(leftovers(r.made!, fwd, host)).toEqual([]);
    lab.sh(host, ["nft", "delete", "table", "ip", "filter"]);
  }, 40_000);

  test("iptables (MCRELAY_SHAPE_NAT=iptables), FORWARD policy DROP: the same, iptables-save as before", async () => {
    lab.sh(host, ["iptables", "-P", "FORWARD", "DROP"]);
    const save = () => lab.sh(host, ["iptables-save"]).stdout.replace(/^#.*\n/gm, "");
    const before = { ipt: save(), nft: lab.sh(host, ["nft", "list", "ruleset"]).stdout };
    const fwd = ipForward(host);
    const r = await throughTheHost({ MCRELAY_SHAPE_NAT: "iptables" }, (m) => {
      const during = save();
      expect(during).toContain(`-A POSTROUTING -s ${m.inside.replace(/\d+$/, (x) => String(Number(x) - 2))}/30 ! -o shp${m.id}h -j MASQUERADE`);
      expect(during).toContain(`-A FORWARD -i shp${m.id}h -j ACCEPT`);
      expect(during).toContain(`-A FORWARD -o shp${m.id}h -j ACCEPT`);
    });
    expect(r.stderr).toContain("NAT with iptables");
    expect({ ipt: save(), nft: lab.sh(host, ["nft", "list", "ruleset"]).stdout }).toEqual(before);
    expect(leftovers(r.made!, fwd, host)).toEqual([]);
  }, 40_000);
});
