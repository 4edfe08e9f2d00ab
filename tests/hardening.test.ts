// What an adversarial probe found, each checked as a user would: replies counted, rules applied
// and forwarding, groups in /proc/net/igmp, every lost packet under a reason, exits timed.
//   src --veth-- relay --veth-- dst
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Lab } from "../lab/netns.ts";
import { lookupUser } from "../services/supervisor/workers.ts";
import { settled } from "./lib/settled.ts";
import { relayTopology } from "./lib/topology.ts";
import { BUN, ROOT, TestRelay, collect, runGen, startSink } from "./lib/relay.ts";

let lab: Lab;
let src: string, relay: string, dst: string;

beforeAll(() => {
  ({ lab, src, relay, dst } = relayTopology("hard"));
});
afterAll(() => lab?.destroy());

/** n rules on in0, groups 239.100.x.y from base, each to its own output group 239.200.x.y. */
const manyRules = (n: number, port = 5000) => Array.from({ length: n }, (_, i) => ({
  id: `r${i}`, input: { interface: "in0", group: `239.100.${i >> 8}.${i & 255}`, port },
  outputs: [{ interface: "out0", group: `239.200.${i >> 8}.${i & 255}`, port: port + 1000 }],
}));
const rule = (port: number, extra: object = {}) => ({
  input: { interface: "in0", group: "239.1.1.1", port }, outputs: [{ interface: "out0", group: "239.2.2.2", port: port + 1000 }], ...extra,
});

async function runTool(ns: string, args: string[], env?: Record<string, string>): Promise<any> {
  const p = lab.spawn(ns, [BUN, ...args], { cwd: ROOT, env });
  const out = collect(p.stdout);
  const err = collect(p.stderr);
  await p.exited;
  await out.done;
  await err.done;
  if (p.exitCode !== 0) throw new Error(`${args.join(" ")} exited ${p.exitCode}: ${err.text()}`);
  return JSON.parse(out.text());
}

/** Sends `each` datagrams to each of `groups` groups from 239.100.0.0. */
const spray = (groups: number, port: number, each = 1, rate = 20000) =>
  runTool(src, ["tests/tools/spray.ts", "--base", "239.100.0.0", "--groups", String(groups), "--port", String(port), "--each", String(each), "--rate", String(rate)]);


/** Memberships of an interface in the relay namespace, from /proc/net/igmp. */
function igmpGroups(ifname: string): number {
  const lines = lab.sh(relay, ["cat", "/proc/net/igmp"]).stdout.split("\n");
  let n = 0;
  let inIf = false;
  for (const l of lines) {
    if (/^\d+\s/.test(l)) inIf = l.split(/\s+/)[1].replace(/:$/, "") === ifname;
    else if (inIf && /^\s+[0-9A-F]{8}\s/.test(l) && l.trim().split(/\s+/)[0] !== "010000E0") n++; // not 224.0.0.1, joined by every host
  }
  return n;
}

describe("control socket", () => {
  test("40 status requests written at once with 501 rules, read slowly: 40 whole replies", async () => {
    const r = await TestRelay.start(lab, relay, { rules: manyRules(501) }, { noApi: true });
    try {
      const got = await runTool(relay, ["tests/tools/control-client.ts", "--socket", join(r.stateDir, "control.sock"), "--count", "40", "--pause-ms", "2000", "--wait-ms", "10000"]);
      expect(got).toEqual({ replies: 40, whole: 40, closed: false });
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("a process of the relay user that is not the API is refused; nothing it sends is answered", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [] });
    try {
      await r.apiReady();
      const u = lookupUser("mcrelay");
      const got = await runTool(relay, ["tests/tools/control-client.ts", "--socket", join(r.stateDir, "control.sock"), "--wait-ms", "1500"]);
      expect(got.whole).toBe(1); // root (the test) may ask
      const p = lab.spawn(relay, ["setpriv", `--reuid=${u.uid}`, `--regid=${u.gid}`, "--clear-groups", BUN, "tests/tools/control-client.ts",
        "--socket", join(r.stateDir, "control.sock"), "--wait-ms", "1500"],
        { cwd: ROOT, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent" } }); // as the supervisor starts the relay user's processes
      const out = collect(p.stdout);
      const err = collect(p.stderr);
      await p.exited;
      await out.done;
      await err.done;
      expect({ code: p.exitCode, stderr: err.text() }).toEqual({ code: 0, stderr: "" });
      expect(JSON.parse(out.text())).toEqual({ replies: 0, whole: 0, closed: true });
      expect(r.logs()).toContain("control socket: refused a peer");
    } finally {
      await r.stop();
    }
  }, 60_000);
});

describe("the relay user", () => {
  test("a process of the relay user cannot ptrace a worker or the API, nor read their environment or memory", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [] });
    try {
      await r.apiReady();
      const u = lookupUser("mcrelay");
      for (const pid of [...r.status().workers.map((w) => w.pid), r.status().api!.pid]) {
        const run = lab.sh(relay, ["setpriv", `--reuid=${u.uid}`, `--regid=${u.gid}`, "--clear-groups", "sh", "-c", `cat /proc/${pid}/environ; head -c1 /proc/${pid}/mem`]);
        expect([pid, run.code]).not.toEqual([pid, 0]);
        expect(run.stderr).toContain("Permission denied");
      }
    } finally {
      await r.stop();
    }
  }, 30_000);
});

describe("scale", () => {
  test("16,384 rules (the default --max-rules): applied, every group joined, every rule forwarding", async () => {
    const r = await TestRelay.start(lab, relay, { rules: manyRules(16384) });
    try {
      await r.apiReady();
      const st = r.status();
      expect(st.rules.filter((x) => x.state === "active")).toHaveLength(16384);
      expect(igmpGroups("in0")).toBe(16384);
      const api = await r.api("GET", "/api/v1/rules");
      expect(api.body.rules.filter((x: any) => x.state === "active")).toHaveLength(16384);
      // One datagram to every group; every rule relays exactly its own.
      expect((await spray(16384, 5000)).sent).toBe(16384);
      const s = await settled(() => r.stats(), (s) => s.rules.every((x) => x.txPackets === 1), 10_000);
      expect(s.rules.filter((x) => x.rxPackets !== 1 || x.txPackets !== 1).map((x) => x.id)).toEqual([]);
      // The relay is full: one more is refused, nothing stored.
      const more = await r.api("POST", "/api/v1/rules", rule(7000));
      expect(more.status).toBe(422);
      expect(more.body.issues[0].message).toContain("at most 16384 rules");
      expect((await r.api("GET", "/api/v1/rules")).body.rules).toHaveLength(16384);
      // A change to one rule does not resend the others: it is answered quickly.
      const t0 = performance.now();
      const p = await r.api("PATCH", "/api/v1/rules/r77", { outputs: [{ interface: "out0", group: "239.9.9.9", port: 6001 }] });
      expect(p.status).toBe(200);
      expect(p.body.state).toBe("active");
      expect(performance.now() - t0).toBeLessThan(2000);
    } finally {
      await r.stop();
    }
  }, 180_000);

  test("/api/v1/stats and /metrics with 1,000 rules under 50 concurrent clients: every answer 200", async () => {
    const r = await TestRelay.start(lab, relay, { rules: manyRules(1000) });
    try {
      await r.apiReady();
      const headers = { authorization: `Bearer ${r.token}` };
      const client = async (k: number) => {
        const codes: number[] = [];
        for (let i = 0; i < 20; i++) {
          const res = await fetch(`http://relay${(k + i) % 2 ? "/metrics" : "/api/v1/stats"}`, { headers, unix: r.apiSocket } as RequestInit);
          await res.arrayBuffer();
          codes.push(res.status);
        }
        return codes;
      };
      const codes = (await Promise.all(Array.from({ length: 50 }, (_, k) => client(k)))).flat();
      expect(codes.filter((c) => c !== 200)).toEqual([]);
      expect(codes).toHaveLength(1000);
      expect(r.logs()).not.toContain("reconnecting");
    } finally {
      await r.stop();
    }
  }, 120_000);
});

describe("multicast joins", () => {
  test("1,000 groups on one input: every one in /proc/net/igmp, every one forwarding", async () => {
    const r = await TestRelay.start(lab, relay, { rules: manyRules(1000) }, { noApi: true });
    try {
      expect(igmpGroups("in0")).toBe(1000);
      expect(r.status().joins).toEqual([{ ifname: "in0", joined: 1000, failed: 0 }]);
      await spray(1000, 5000, 2);
      const s = await settled(() => r.stats(), (s) => s.rules.every((x) => x.txPackets === 2), 5000);
      expect(s.rules.filter((x) => x.txPackets !== 2).map((x) => x.id)).toEqual([]);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("a join the kernel refuses: the rule says so (down, with the reason) and the metric counts it; it is retried", async () => {
    // The kernel's per-socket limit at 0: every join fails with ENOBUFS.
    lab.sysctl(relay, "net.ipv4.igmp_max_memberships", "0");
    try {
      const r = await TestRelay.start(lab, relay, { rules: [rule(5000, { name: "unjoined" })] });
      try {
        await r.apiReady();
        const st = r.status().rules[0];
        expect(st.state).toBe("down");
        expect(st.reason).toContain("joining 239.1.1.1 on in0 failed: ENOBUFS");
        const view = (await r.api("GET", "/api/v1/rules")).body.rules[0];
        expect(view).toMatchObject({ state: "down", reason: expect.stringContaining("ENOBUFS") });
        const m = await (await fetch("http://relay/metrics", { headers: { authorization: `Bearer ${r.token}` }, unix: r.apiSocket } as RequestInit)).text();
        expect(m).toMatch(/mcrelay_multicast_memberships\{[^}]*interface="in0",state="failed"\} 1/);
        expect(m).toMatch(/mcrelay_rule_up\{[^}]*rule="unjoined"[^}]*\} 0/);
        // The limit goes back up: the next look (within 5 s) joins, and the rule is active.
        lab.sysctl(relay, "net.ipv4.igmp_max_memberships", "20");
        const after = await settled(() => r.status().rules[0], (x) => x.state === "active", 8000);
        expect(after.state).toBe("active");
        expect(igmpGroups("in0")).toBe(1);
      } finally {
        await r.stop();
      }
    } finally {
      lab.sysctl(relay, "net.ipv4.igmp_max_memberships", "20");
    }
  }, 60_000);
});

describe("a replaced worker loses nothing uncounted", () => {
  const metricsOf = async (r: TestRelay) =>
    (await (await fetch("http://relay/metrics", { headers: { authorization: `Bearer ${r.token}` }, unix: r.apiSocket } as RequestInit)).text());
  /** Sum of mcrelay_drops_total over every reason. */
  const droppedTotal = (m: string) => m.split("\n").filter((l) => l.startsWith("mcrelay_drops_total{")).reduce((a, l) => a + Number(l.split(" ").pop()), 0);

  test("egress stopped (SIGSTOP) 4.5 s under 2,000 pps: replaced; every packet delivered or counted under a /metrics reason", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [rule(5200)] });
    try {
      await r.apiReady();
      // The sink waits out the stall (it ends after 10 s without a packet).
      const sink = startSink(lab, dst, ["--group", "239.2.2.2", "--port", "6200", "--interface", "eth0", "--idle", "10000"]);
      await sink.ready;
      const gen = runGen(lab, src, ["--group", "239.1.1.1", "--port", "5200", "--interface", "eth0", "--rate", "2000", "--size", "300", "--count", "16000"]);
      await Bun.sleep(1000);
      const egress = r.status().workers.find((w) => w.role === "egress")!.pid;
      process.kill(egress, "SIGSTOP");
      await Bun.sleep(4500);
      try {
        process.kill(egress, "SIGCONT");
      } catch {
        // replaced (killed) already, as it should be
      }
      await gen;
      const got = await sink.result;
      expect(got.duplicates).toBe(0);
      expect(r.status().workers.find((w) => w.role === "egress")!.pid).not.toBe(egress);
      const s = await settled(() => r.stats(), (s) => s.rules[0].rxPackets + s.rules[0].drops.pool_exhausted >= 16000, 5000);
      const lost = 16000 - got.unique;
      const counted = droppedTotal(await metricsOf(r));
      // Every lost packet is counted; what the dead egress had sent without being told so is
      // counted too (sent or lost: it is never resent), so the count may exceed the loss by at
      // most what can be in flight.
      expect(counted).toBeGreaterThanOrEqual(lost);
      expect(counted - lost).toBeLessThanOrEqual(1024);
      expect(s.drops.no_output).toBe(0); // the new egress had its rules before it took a packet
      expect(s.rules[0].drops.worker_restart + s.rules[0].drops.pool_exhausted).toBe(counted);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("ingress killed under 2,000 pps: its socket goes to the replacement, every packet arrives exactly once", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [rule(5300)] }, { noApi: true });
    try {
      const sink = startSink(lab, dst, ["--group", "239.2.2.2", "--port", "6300", "--interface", "eth0", "--expect", "10000", "--idle", "5000"]);
      await sink.ready;
      const gen = runGen(lab, src, ["--group", "239.1.1.1", "--port", "5300", "--interface", "eth0", "--rate", "2000", "--size", "300", "--count", "10000"]);
      for (let k = 0; k < 3; k++) {
        await Bun.sleep(1200);
        process.kill(r.status().workers.find((w) => w.role === "ingress")!.pid, "SIGKILL");
      }
      await gen;
      const got = await sink.result;
      expect({ unique: got.unique, duplicates: got.duplicates, corrupted: got.corrupted }).toEqual({ unique: 10000, duplicates: 0, corrupted: 0 });
      const s = r.stats();
      expect(s.rules[0]).toMatchObject({ rxPackets: 10000, txPackets: 10000 });
    } finally {
      await r.stop();
    }
  }, 60_000);
});

describe("rule numbers", () => {
  test("with --max-rules 3, 30 rules made and deleted in turn: each applied and forwarding, /healthz ready", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [] }, { args: ["--max-rules", "3"] });
    try {
      await r.apiReady();
      for (let i = 0; i < 30; i++) {
        const c = await r.api("POST", "/api/v1/rules", rule(5400 + i, { id: `n${i}` }));
        expect([c.status, c.body.state]).toEqual([201, "active"]);
        await runGen(lab, src, ["--group", "239.1.1.1", "--port", String(5400 + i), "--interface", "eth0", "--rate", "1000", "--size", "100", "--count", "5"]);
        const s = await settled(() => r.stats(), (s) => s.rules.some((x) => x.id === `n${i}` && x.txPackets === 5), 5000);
        // A reused number starts from zero: exactly this rule's five.
        expect(s.rules.find((x) => x.id === `n${i}`)).toMatchObject({ rxPackets: 5, txPackets: 5 });
        expect((await r.api("DELETE", `/api/v1/rules/n${i}`)).status).toBe(204);
      }
      expect((await r.api("GET", "/healthz", undefined, { auth: false })).status).toBe(200);
      expect(r.logs()).not.toMatch(/uncaught|exhausted/i);
    } finally {
      await r.stop();
    }
  }, 120_000);
});

describe("a full disk", () => {
  /** A tmpfs of `size` mounted on a fresh directory; umount() removes it. */
  function smallDisk(size: string) {
    const dir = mkdtempSync(join(tmpdir(), "mcrelay-full-"));
    lab.sh(null, ["mount", "-t", "tmpfs", "-o", `size=${size},mode=0755`, "tmpfs", dir]);
    return { dir, umount: () => { lab.sh(null, ["umount", "-l", dir]); rmSync(dir, { recursive: true, force: true }); } };
  }

  test("the disk fills while the relay runs: POST is 507 naming ENOSPC, nothing stored; SIGTERM still stops it within 5 s", async () => {
    const disk = smallDisk("2m");
    try {
      const state = join(disk.dir, "state");
      mkdirSync(state);
      const cfg = join(disk.dir, "rules.json");
      writeFileSync(cfg, JSON.stringify({ rules: [] }));
      const p = lab.spawn(relay, [BUN, "bin/mcrelay.ts", "start", "--config", cfg, "--state-dir", state, "--workers", "1",
        "--api-listen", `unix:${join(state, "api", "http.sock")}`], { cwd: ROOT });
      const err = collect(p.stderr);
      const sock = join(state, "api", "http.sock");
      const call = async (method: string, path: string, body?: unknown) => fetch(`http://relay${path}`, { method, unix: sock,
        headers: { authorization: `Bearer ${readFileSync(join(state, "api", "api-token"), "utf8").trim()}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body) } as RequestInit);
      await settled(() => call("GET", "/healthz").then((x) => x.status, () => 0), (s) => s === 200, 15_000);
      // Fill the disk to the last byte.
      lab.sh(null, ["sh", "-c", `cat /dev/zero > ${join(disk.dir, "filler")} 2>/dev/null; true`]);
      const res = await call("POST", "/api/v1/rules", rule(5500, { name: "x".repeat(120) }));
      const body = await res.json() as any;
      expect(res.status).toBe(507);
      expect(body.error).toContain("ENOSPC");
      expect(body.error).toContain(state);
      expect(((await (await call("GET", "/api/v1/rules")).json()) as any).rules).toEqual([]);
      const t0 = Date.now();
      p.kill("SIGTERM");
      await Promise.race([p.exited, Bun.sleep(6000)]);
      expect(p.exitCode).not.toBeNull();
      expect(Date.now() - t0).toBeLessThan(5000);
      await err.done;
    } finally {
      disk.umount();
    }
  }, 60_000);

  test("a state directory on a full disk: start-up stops, naming ENOSPC and the directory", async () => {
    const disk = smallDisk("64k");
    try {
      lab.sh(null, ["sh", "-c", `cat /dev/zero > ${join(disk.dir, "filler")} 2>/dev/null; true`]);
      const state = join(disk.dir, "state");
      const t0 = Date.now();
      const run = Bun.spawnSync([BUN, "bin/mcrelay.ts", "start", "--state-dir", state, "--workers", "1", "--no-api"], { cwd: ROOT, stdout: "pipe", stderr: "pipe", timeout: 20_000 });
      const out = run.stdout.toString() + run.stderr.toString();
      expect(run.exitCode).toBe(1);
      expect(out).toContain("ENOSPC");
      expect(out).toContain(state);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      disk.umount();
    }
  }, 30_000);
});

describe("names and addresses that cannot work", () => {
  test("a lone surrogate, NUL or a control character in a name, a broadcast output: 422 naming the field, nothing stored", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [] });
    try {
      await r.apiReady();
      const cases: [string, object, string, RegExp][] = [
        ["lone surrogate", { name: "feed\ud800" }, "name", /not well-formed Unicode/],
        ["NUL", { name: "feed\u0000x" }, "name", /control character/],
        ["newline", { name: "feed\nx" }, "name", /control character/],
        ["broadcast", { outputs: [{ interface: "out0", group: "10.77.0.255", port: 6600 }] }, "outputs.0.group", /broadcast address of out0/],
      ];
      for (const [what, extra, path, msg] of cases) {
        const res = await r.api("POST", "/api/v1/rules", rule(5600, extra));
        expect([what, res.status]).toEqual([what, 422]);
        expect(res.body.issues.map((i: any) => i.path.join("."))).toContain(path);
        expect(res.body.issues.find((i: any) => i.path.join(".") === path).message).toMatch(msg);
      }
      expect((await r.api("GET", "/api/v1/rules")).body.rules).toEqual([]);
    } finally {
      await r.stop();
    }
  }, 60_000);
});
