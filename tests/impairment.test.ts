// Synthetic networks: per-rule impairment stages and DSCP, in network namespaces.
//   src --veth-- relay --veth-- dst
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Lab } from "../lab/netns.ts";
import { relayTopology } from "./lib/topology.ts";
import { BUN, ROOT, TestRelay, collect, expectExactlyOnce, runGen, startSink } from "./lib/relay.ts";

let lab: Lab;
let src: string, relay: string, dst: string;

beforeAll(() => {
  ({ lab, src, relay, dst } = relayTopology("imp", { outputChecksums: true }));
});
afterAll(() => lab?.destroy());

const rule = (name: string, port: number, impairment?: object, outputs?: object[]) => ({
  name, input: { interface: "in0", group: "239.1.1.1", port },
  outputs: outputs ?? [{ interface: "out0", group: "239.2.2.2", port: port + 1000 }], ...(impairment ? { impairment } : {}),
});
const sink = (port: number, extra: string[] = []) => startSink(lab, dst, ["--group", "239.2.2.2", "--port", String(port), "--interface", "eth0", "--idle", "1500", ...extra]);
const gen = (port: number, rate: number, count: number, size = 200) =>
  runGen(lab, src, ["--group", "239.1.1.1", "--port", String(port), "--interface", "eth0", "--rate", String(rate), "--size", String(size), "--count", String(count)]);

/** Sends count packets through the rule on port and returns the sink's report. */
async function through(port: number, rate: number, count: number, extra: string[] = []) {
  const s = sink(port + 1000, extra);
  await s.ready;
  await gen(port, rate, count);
  return s.result;
}

describe("priority", () => {
  test("under egress congestion EF loses a smaller share than best effort", async () => {
    // 1:8 fan-out of two floods: egress has far more to send than it can.
    const fan = (dscp: number, base: number) => Array.from({ length: 8 }, (_, i) => ({ interface: "out0", group: "239.2.2.9", port: base + i, dscp }));
    const r = await TestRelay.start(lab, relay, { pool: { slots: 1024, jumboSlots: 0 }, rules: [rule("ef", 5070, undefined, fan(46, 7000)), rule("be", 5071, undefined, fan(0, 7100))] });
    try {
      const flood = (port: number) => runGen(lab, src, ["--group", "239.1.1.1", "--port", String(port), "--interface", "eth0", "--rate", "0", "--size", "200", "--count", "150000"]);
      await Promise.all([flood(5070), flood(5071)]);
      await Bun.sleep(500);
      const [ef, be] = r.stats().rules;
      const loss = (x: typeof ef) => x.drops.pool_exhausted / (x.rxPackets + x.drops.pool_exhausted);
      expect(be.drops.pool_exhausted).toBeGreaterThan(0); // it really was congested
      expect(loss(ef)).toBeLessThan(loss(be));
      console.log(`priority: EF loss ${(100 * loss(ef)).toFixed(1)}%, best effort ${(100 * loss(be)).toFixed(1)}%`);
    } finally {
      await r.stop();
    }
  }, 60_000);
});

describe("impairment", () => {
  test("loss 0.2 over 10,000: 8,000 ± 200 delivered, none twice; the same seed drops the same packets", async () => {
    const imp = { loss: 0.2, seed: 42 };
    const r = await TestRelay.start(lab, relay, { rules: [rule("a", 5000, imp), rule("b", 5001, imp)] });
    try {
      const a = await through(5000, 5000, 10000, ["--record-seqs"]);
      const b = await through(5001, 5000, 10000, ["--record-seqs"]);
      expect(a.unique).toBeGreaterThanOrEqual(7800);
      expect(a.unique).toBeLessThanOrEqual(8200);
      expect(a.duplicates).toBe(0);
      expect(b.seqs).toEqual(a.seqs); // same seed, same packet sequence: same survivors
      const st = r.stats();
      expect(st.rules[0].drops.impairment).toBe(10000 - a.unique);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("duplicate 0.1: every packet once, plus 1,000 ± 200 duplicates", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [rule("dup", 5010, { duplicate: 0.1, seed: 7 })] });
    try {
      const got = await through(5010, 5000, 10000);
      expect(got.unique).toBe(10000);
      expect(got.duplicates).toBeGreaterThanOrEqual(800);
      expect(got.duplicates).toBeLessThanOrEqual(1200);
      expect(r.stats().rules[0].duplicated).toBe(got.duplicates);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("delay 20 ms shifts receive time by 20 ± 3 ms against an undelayed rule; rule B keeps no loss and no delay", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [rule("slow", 5020, { delayMs: 20, jitterMs: 0 }), rule("plain", 5021)] });
    try {
      const sa = sink(6020, ["--expect", "2000"]);
      const sb = sink(6021, ["--expect", "2000"]);
      await Promise.all([sa.ready, sb.ready]);
      await Promise.all([gen(5020, 1000, 2000), gen(5021, 1000, 2000)]);
      const [slow, plain] = await Promise.all([sa.result, sb.result]);
      expectExactlyOnce(slow, 2000, r);
      expectExactlyOnce(plain, 2000, r);
      const shiftMs = (slow.latencyUs.p50 - plain.latencyUs.p50) / 1000;
      expect(shiftMs).toBeGreaterThanOrEqual(17);
      expect(shiftMs).toBeLessThanOrEqual(23);
      expect(plain.latencyUs.p50).toBeLessThan(5000); // the undelayed rule is not slowed down
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("reorder 0.05: out-of-order packets about 5%, none lost", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [rule("ooo", 5030, { reorder: 0.05, seed: 3 })] });
    try {
      const got = await through(5030, 5000, 10000, ["--expect", "10000"]);
      expectExactlyOnce(got, 10000, r);
      expect(got.outOfOrder).toBeGreaterThanOrEqual(350);
      expect(got.outOfOrder).toBeLessThanOrEqual(650);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("ratePps 1,000 with 5,000 offered: 1,000 ± 5% pps delivered", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [rule("rate", 5040, { ratePps: 1000 })] });
    try {
      const s = sink(6040);
      await s.ready;
      const g = await gen(5040, 5000, 15000); // 3 s
      const got = await s.result;
      // Delivered rate = the share delivered × the rate the sender achieved.
      const pps = (got.unique / g.sent) * g.pps;
      expect(pps).toBeGreaterThanOrEqual(950);
      expect(pps).toBeLessThanOrEqual(1050);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("a named stage (docs/STAGES.md's example) drops odd-sized packets only", async () => {
    const r = await TestRelay.start(lab, relay, { rules: [rule("odd", 5050, { stages: ["drop-odd-size"] })] });
    try {
      const s = sink(6050);
      await s.ready;
      const inj = lab.spawn(src, [BUN, "tests/tools/inject.ts", "--interface", "eth0", "--src", "10.99.1.2", "--group", "239.1.1.1",
        "--port", "5050", "--valid", "200", "--each", "0", "--size", "500", "--size-step", "1"], { cwd: ROOT });
      expect(await inj.exited).toBe(0);
      const got = await s.result;
      expect(got.unique).toBe(100); // the 500-byte ones
      expect(r.stats().rules[0].drops.impairment).toBe(100);
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("a stage with parameters ({name: corrupt, every: 10}) corrupts exactly every 10th datagram, read from the wire", async () => {
    const outputs = [{ interface: "out0", group: "239.2.2.2", port: 6055, send: "raw" }, { interface: "out0", group: "239.2.2.3", port: 6056, send: "socket" }];
    const r = await TestRelay.start(lab, relay, { rules: [rule("bytes", 5055, { stages: [{ name: "corrupt", every: 10 }] }, outputs)] });
    try {
      const cap = lab.spawn(dst, [BUN, "tests/tools/capture.ts", "--interface", "eth0", "--ms", "3000"], { cwd: ROOT });
      const out = collect(cap.stdout);
      const err = collect(cap.stderr);
      while (!err.text().includes("ready")) await Bun.sleep(10);
      await gen(5055, 2000, 1000, 300);
      await cap.exited;
      await out.done;
      const wire = JSON.parse(out.text());
      // Both send paths: 1,000 datagrams, 100 of them with a flipped byte (the payload check fails),
      // every checksum valid (computed after the change).
      for (const k of ["239.2.2.2:6055", "239.2.2.3:6056"]) expect({ k, ...wire[k] }).toMatchObject({ k, packets: 1000, unique: 900, badPayload: 100, badUdpSum: 0, badIpSum: 0 });
    } finally {
      await r.stop();
    }
  }, 60_000);

  test("DSCP: set on one output, preserved from the input on another, read from the wire", async () => {
    const outputs = [{ interface: "out0", group: "239.2.2.2", port: 6060, dscp: 10 }, { interface: "out0", group: "239.2.2.3", port: 6061, dscp: "preserve" }];
    const r = await TestRelay.start(lab, relay, { rules: [rule("dscp", 5060, undefined, outputs)] });
    try {
      const cap = lab.spawn(dst, [BUN, "tests/tools/capture.ts", "--interface", "eth0", "--ms", "2500"], { cwd: ROOT });
      const out = collect(cap.stdout);
      const err = collect(cap.stderr);
      while (!err.text().includes("ready")) await Bun.sleep(10);
      const inj = lab.spawn(src, [BUN, "tests/tools/inject.ts", "--interface", "eth0", "--src", "10.99.1.2", "--group", "239.1.1.1",
        "--port", "5060", "--valid", "100", "--each", "0", "--tos", String(46 << 2)], { cwd: ROOT });
      expect(await inj.exited).toBe(0);
      await cap.exited;
      await out.done;
      const wire = JSON.parse(out.text());
      expect(wire["239.2.2.2:6060"]).toMatchObject({ packets: 100, tos: [10 << 2] });
      expect(wire["239.2.2.3:6061"]).toMatchObject({ packets: 100, tos: [46 << 2] });
    } finally {
      await r.stop();
    }
  }, 60_000);
});
