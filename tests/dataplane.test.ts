// The data plane end to end, in network namespaces with veth links, as root:
//   src (10.99.1.2) --veth-- [in0 192.168.50.1] relay [out0 10.77.0.1, out1 10.78.0.1] --veth-- dst
// The relay has no route back to 10.99.1.0/24 and rp_filter=1: the kernel drops the stream,
// only AF_PACKET sees it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { Lab } from "../lab/netns.ts";
import { BUN, ROOT, TestRelay, backlogDrops, collect, expectExactlyOnce, runGen, startSink } from "./lib/relay.ts";

let lab: Lab;
let src: string, relay: string, dst: string;

beforeAll(() => {
  lab = Lab.create("dp");
  src = lab.ns("src");
  relay = lab.ns("rly");
  dst = lab.ns("dst");
  lab.veth({ ns: src, ifname: "eth0", addr: "10.99.1.2/24", mtu: 9000 }, { ns: relay, ifname: "in0", addr: "192.168.50.1/24", mtu: 9000 });
  lab.veth({ ns: relay, ifname: "out0", addr: "10.77.0.1/24" }, { ns: dst, ifname: "eth0", addr: "10.77.0.2/24" });
  lab.veth({ ns: relay, ifname: "out1", addr: "10.78.0.1/24" }, { ns: dst, ifname: "eth1", addr: "10.78.0.2/24" });
  lab.sh(src, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
  // A new namespace caps receive buffers at ~208 KiB; the sinks ask for 8 MiB.
  lab.sysctl(dst, "net.core.rmem_max", String(8 << 20));
  for (const k of ["all", "default", "in0"]) lab.sysctl(relay, `net.ipv4.conf.${k}.rp_filter`, "1");
});

afterAll(() => lab?.destroy());

const rule = (name: string, port: number, outputs: object[], extra: object = {}) => ({
  name, input: { interface: "in0", group: "239.1.1.1", port, ...extra }, outputs,
});

/** Stats need a moment after the last packet: egress completions are reaped on the next turn. */
async function settledStats(r: TestRelay, ok: (s: ReturnType<TestRelay["stats"]>) => boolean) {
  const deadline = Date.now() + 3000;
  let s = r.stats();
  while (!ok(s) && Date.now() < deadline) {
    await Bun.sleep(50);
    s = r.stats();
  }
  return s;
}

describe("data plane", () => {
  // Both AF_PACKET ring versions: V3 (the default, blocks) and V2 (a frame at a time, MCRELAY_TUNE_RING=v2).
  test.each(["v3", "v2"])("1:1 across an RPF boundary (%s ring): 10,000 x 1,400 B at 5,000 pps arrive all, once, byte-exact, in order", async (ring) => {
    // The premise: the relay cannot route back to the source.
    expect(lab.sh(relay, ["ip", "route", "get", "10.99.1.2"]).code).not.toBe(0);
    const env = { ...process.env, MCRELAY_TUNE_RING: ring } as Record<string, string>;
    const r = await TestRelay.start(lab, relay, { rules: [rule("one", 5000, [{ interface: "out0", group: "239.2.2.2", port: 6000 }])] }, { env });
    try {
      const bl = backlogDrops();
      const sink = startSink(lab, dst, ["--group", "239.2.2.2", "--port", "6000", "--interface", "eth0", "--expect", "10000"]);
      await sink.ready;
      const gen = await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "eth0", "--rate", "5000", "--size", "1400", "--count", "10000"]);
      expect(gen.sent).toBe(10000);
      const got = await sink.result;
      expectExactlyOnce(got, 10000, r, bl);
      expect(got.outOfOrder).toBe(0);
      const s = await settledStats(r, (s) => s.rules[0].txPackets === 10000);
      expect(s.rules[0]).toMatchObject({ rxPackets: 10000, rxBytes: 14_000_000, txPackets: 10000, txBytes: 14_000_000 });
      expect(s.drops.pool_exhausted + s.drops.ring_full + s.drops.send_error).toBe(0);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("fan-out 1:3 with group and port rewrite: every output gets every packet, TTL and DSCP as set", async () => {
    const outputs = [
      { interface: "out0", group: "239.2.2.2", port: 6000, ttl: 5, dscp: 46 },
      { interface: "out0", group: "239.3.3.3", port: 6001, ttl: 9 },
      { interface: "out1", group: "239.4.4.4", port: 6002, ttl: 3, dscp: 10 },
    ];
    const r = await TestRelay.start(lab, relay, { rules: [rule("fan", 5000, outputs)] });
    try {
      const sinks = [["239.2.2.2", "6000", "eth0"], ["239.3.3.3", "6001", "eth0"], ["239.4.4.4", "6002", "eth1"]].map(([g, p, i]) =>
        startSink(lab, dst, ["--group", g, "--port", p, "--interface", i, "--expect", "2000"]));
      const caps = ["eth0", "eth1"].map((i) => {
        const p = lab.spawn(dst, [BUN, "tests/tools/capture.ts", "--interface", i, "--ms", "3500"], { cwd: ROOT });
        return { out: collect(p.stdout), err: collect(p.stderr), p };
      });
      await Promise.all(sinks.map((s) => s.ready));
      const bl = backlogDrops();
      while (!caps.every((c) => c.err.text().includes("ready"))) await Bun.sleep(20);
      await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "eth0", "--rate", "4000", "--size", "600", "--count", "2000"]);
      for (const s of sinks) {
        const got = await s.result;
        expectExactlyOnce(got, 2000, r, bl);
      }
      const wire = await Promise.all(caps.map(async (c) => { await c.p.exited; await c.out.done; return JSON.parse(c.out.text()); }));
      expect(wire[0]["239.2.2.2:6000"]).toMatchObject({ packets: 2000, ttl: [5], tos: [46 << 2], src: ["10.77.0.1"] });
      expect(wire[0]["239.3.3.3:6001"]).toMatchObject({ packets: 2000, ttl: [9], tos: [0], src: ["10.77.0.1"] });
      expect(wire[1]["239.4.4.4:6002"]).toMatchObject({ packets: 2000, ttl: [3], tos: [10 << 2], src: ["10.78.0.1"] });
      const s = await settledStats(r, (s) => s.rules[0].txPackets === 6000);
      expect(s.rules[0]).toMatchObject({ rxPackets: 2000, txPackets: 6000 });
    } finally {
      await r.stop();
    }
  }, 60_000);

  test.each(["raw", "socket"])("--workers 2 with 16 flows (send %s): no loss, no duplicates, order kept per flow, both workers carry traffic, one sender", async (send) => {
    const r = await TestRelay.start(lab, relay, { rules: [rule("multi", 5000, [{ interface: "out0", group: "239.2.2.2", port: 6000, send }])] }, { workers: 2 });
    try {
      const bl = backlogDrops();
      const sink = startSink(lab, dst, ["--group", "239.2.2.2", "--port", "6000", "--interface", "eth0", "--expect", "16000", "--flows", "16"]);
      await sink.ready;
      await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "eth0", "--rate", "8000", "--size", "200", "--count", "16000", "--flows", "16"]);
      const got = await sink.result;
      expectExactlyOnce(got, 16000, r, bl);
      expect(got.outOfOrder).toBe(0);
      const s = await settledStats(r, (s) => s.rules[0].txPackets === 16000);
      expect(s.workers).toHaveLength(2);
      const perWorker = s.workers.map((w) => w.ingress.matched);
      expect(perWorker[0]).toBeGreaterThan(0);
      expect(perWorker[1]).toBeGreaterThan(0);
      expect(perWorker[0] + perWorker[1]).toBe(16000);
      expect(s.workers.map((w) => w.egress.completions)).toEqual(perWorker);
      // One output, one sender: both workers send from the same source port.
      expect(got.senders).toHaveLength(1);
      if (send === "socket") {
        // Their sockets to 239.2.2.2:6000 share that port.
        const udp = lab.sh(relay, ["cat", "/proc/net/udp"]).stdout.split("\n").map((l) => l.trim().split(/\s+/));
        const toOutput = udp.filter((f) => f[2] === "020202EF:1770"); // rem_address 239.2.2.2:6000
        expect(toOutput).toHaveLength(2);
        expect(new Set(toOutput.map((f) => f[1]!.split(":")[1])).size).toBe(1);
      }
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("malformed frames are counted by reason and dropped; every valid packet is delivered", async () => {
    // No jumbo slots: the corpus's 8,972-byte datagram is then oversize.
    const r = await TestRelay.start(lab, relay, { rules: [rule("corpus", 5000, [{ interface: "out0", group: "239.2.2.2", port: 6000 }])], pool: { jumboSlots: 0 } });
    try {
      const before = r.stats().drops;
      const sink = startSink(lab, dst, ["--group", "239.2.2.2", "--port", "6000", "--interface", "eth0", "--expect", "200"]);
      await sink.ready;
      const inj = lab.spawn(src, [BUN, "tests/tools/inject.ts", "--interface", "eth0", "--src", "10.99.1.2", "--group", "239.1.1.1", "--port", "5000"], { cwd: ROOT });
      const out = collect(inj.stdout);
      const err = collect(inj.stderr);
      expect(await inj.exited).toBe(0);
      await out.done;
      const sent = JSON.parse(out.text()) as Record<string, number>;
      expect(err.text()).toBe("");
      const got = await sink.result;
      expect({ unique: got.unique, duplicates: got.duplicates, corrupted: got.corrupted }).toEqual({ unique: 200, duplicates: 0, corrupted: 0 });
      const s = await settledStats(r, (s) => s.rules[0].txPackets === 200);
      expect(r.proc.exitCode).toBeNull(); // still up
      const delta = Object.fromEntries(Object.keys(sent).filter((k) => k !== "valid").map((k) => [k, (s.drops as Record<string, number>)[k] - (before as Record<string, number>)[k]]));
      const expected = Object.fromEntries(Object.entries(sent).filter(([k]) => k !== "valid"));
      expect(delta).toEqual(expected);
      expect(s.rules[0]).toMatchObject({ rxPackets: 200, txPackets: 200 });
      expect(s.rules[0].drops.oversize).toBe(sent.oversize);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("the relay never re-receives its own egress frames (output on the input interface)", async () => {
    // A sends back out of in0 to 239.5.5.5:5000, which B would forward if the relay ever saw it.
    const r = await TestRelay.start(lab, relay, { rules: [
      rule("back", 5000, [{ interface: "in0", group: "239.5.5.5", port: 5000 }]),
      { name: "echo", input: { interface: "in0", group: "239.5.5.5", port: 5000 }, outputs: [{ interface: "out0", group: "239.2.2.2", port: 6000 }] },
    ] }, { workers: 2 });
    try {
      await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "eth0", "--rate", "4000", "--size", "300", "--count", "1000"]);
      const s = await settledStats(r, (s) => s.rules[0].txPackets === 1000);
      expect(s.rules[0]).toMatchObject({ rxPackets: 1000, txPackets: 1000 });
      expect(s.rules[1]).toMatchObject({ rxPackets: 0, txPackets: 0 });
      expect(s.drops.outgoing).toBe(0); // filtered by the kernel, not even seen
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("workers run unprivileged: uid != 0, CapEff 0, no_new_privs; each is its own process", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [rule("priv", 5000, [{ interface: "out0", group: "239.2.2.2", port: 6000 }])] }, { workers: 2 });
    try {
      const st = r.status();
      expect(st.workers.map((w) => w.role).sort()).toEqual(["egress", "egress", "ingress", "ingress"]);
      for (const w of st.workers) {
        const status = readFileSync(`/proc/${w.pid}/status`, "utf8");
        const uids = /^Uid:\s+(.*)$/m.exec(status)![1].split(/\s+/).map(Number);
        expect(uids.every((u) => u !== 0)).toBe(true);
        expect(/^CapEff:\s+(\w+)$/m.exec(status)![1]).toBe("0000000000000000");
        expect(/^CapPrm:\s+(\w+)$/m.exec(status)![1]).toBe("0000000000000000");
        expect(/^NoNewPrivs:\s+(\d)$/m.exec(status)![1]).toBe("1");
        const cmdline = readFileSync(`/proc/${w.pid}/cmdline`, "utf8").split("\0");
        expect(cmdline.some((a) => a.endsWith(`services/${w.role}/main.ts`))).toBe(true);
      }
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("multicast in, unicast out", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [rule("uni", 5000, [{ interface: "out0", group: "10.77.0.2", port: 7000 }])] });
    try {
      const sink = startSink(lab, dst, ["--group", "10.77.0.2", "--port", "7000", "--interface", "eth0", "--expect", "1000"]);
      await sink.ready;
      await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "eth0", "--rate", "4000", "--size", "1000", "--count", "1000"]);
      const got = await sink.result;
      expect({ unique: got.unique, duplicates: got.duplicates, corrupted: got.corrupted }).toEqual({ unique: 1000, duplicates: 0, corrupted: 0 });
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("a rule whose input interface appears late starts forwarding within 2 s", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [
      { name: "late", input: { interface: "late0", group: "239.1.1.1", port: 5000 }, outputs: [{ interface: "out0", group: "239.2.2.2", port: 6000 }] },
    ] });
    try {
      expect(r.status().rules[0]).toMatchObject({ state: "waiting", reason: "waiting for interface late0" });
      lab.veth({ ns: src, ifname: "late1", addr: "10.98.1.2/24" }, { ns: relay, ifname: "late0", addr: "192.168.51.1/24" });
      const t0 = Date.now();
      while (r.status().rules[0].state !== "active") {
        expect(Date.now() - t0).toBeLessThan(2000);
        await Bun.sleep(50);
      }
      const sink = startSink(lab, dst, ["--group", "239.2.2.2", "--port", "6000", "--interface", "eth0", "--expect", "500"]);
      await sink.ready;
      await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "late1", "--rate", "2000", "--size", "500", "--count", "500"]);
      expect((await sink.result).unique).toBe(500);
    } finally {
      await r.stop();
      lab.sh(src, ["ip", "link", "del", "late1"]);
    }
  }, 60_000);

  test("backpressure: a stalled egress exhausts the pool, drops are counted per rule, and it recovers", async () => {
    const r = await TestRelay.start(lab, relay, { pool: { slots: 64, jumboSlots: 0 }, rules: [rule("bp", 5000, [{ interface: "out0", group: "239.2.2.2", port: 6000 }])] });
    const egress = r.status().workers.find((w) => w.role === "egress")!.pid;
    try {
      process.kill(egress, "SIGSTOP");
      await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "eth0", "--rate", "5000", "--size", "300", "--count", "1000"]);
      await Bun.sleep(100);
      let s = r.stats();
      // Every packet is either in a slot or counted as a pool-exhaustion drop. A best-effort rule
      // leaves the last 30% of the pool (19 of 64 slots) to higher classes (shm/classes.ts).
      expect(s.rules[0].rxPackets).toBe(45);
      expect(s.rules[0].drops.pool_exhausted).toBe(955);
      const sink = startSink(lab, dst, ["--group", "239.2.2.2", "--port", "6000", "--interface", "eth0", "--idle", "1500"]);
      await sink.ready;
      process.kill(egress, "SIGCONT");
      await Bun.sleep(300);
      await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "eth0", "--rate", "2000", "--size", "300", "--count", "300"]);
      const got = await sink.result;
      // The 45 held while stalled, then every packet again. Both generator runs number from 0,
      // so the sink sees seqs 0–44 twice by design: count arrivals, not unique numbers.
      expect(got.received).toBe(45 + 300);
      expect(got.corrupted).toBe(0);
      s = await settledStats(r, (s) => s.rules[0].txPackets === 345 && s.workers[0].ingress.freeSlots === 64);
      expect(s.rules[0]).toMatchObject({ rxPackets: 345, txPackets: 345 });
      expect(s.workers[0].ingress.freeSlots).toBe(64); // every slot came back
    } finally {
      process.kill(egress, "SIGCONT");
      await r.stop();
    }
  }, 60_000);

  test("SIGTERM leaves no process and no shared-memory segment behind", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [rule("term", 5000, [{ interface: "out0", group: "239.2.2.2", port: 6000 }])] }, { workers: 2 });
    const st = r.status();
    const { code, ms } = await r.stop();
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000);
    for (const w of st.workers) expect(existsSync(`/proc/${w.pid}`)).toBe(false);
    expect(existsSync(`/proc/${st.pid}`)).toBe(false);
    expect(existsSync(`/dev/shm/${st.shm}`)).toBe(false);
  }, 30_000);
});
