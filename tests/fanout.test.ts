// Fan-out on both send paths, read from the wire: one input, outputs on several veths, a
// capture on each receiving end that checks every frame (IPv4 and UDP checksums, lengths, the
// group's MAC, never a fragment, the payload) beside ordinary UDP sinks.
//   src --veth-- [in0] relay [out0..out3 MTU 1500, out4 MTU 1000] --veths-- dst eth0..eth4
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Lab } from "../lab/netns.ts";
import { TestRelay, backlogDrops, expectExactlyOnce, runGen, startSink } from "./lib/relay.ts";
import { CLEAN as clean, capture as captureIn } from "./lib/wire.ts";
import { settled } from "./lib/settled.ts";
import { metric, metricsText } from "./lib/metrics.ts";

let lab: Lab;
let src: string, relay: string, dst: string;
const OUTS = 5;

beforeAll(() => {
  lab = Lab.create("fan");
  src = lab.ns("src");
  relay = lab.ns("rly");
  dst = lab.ns("dst");
  lab.veth({ ns: src, ifname: "eth0", addr: "10.99.1.2/24", mtu: 9000 }, { ns: relay, ifname: "in0", addr: "192.168.50.1/24", mtu: 9000 });
  for (let i = 0; i < OUTS; i++) {
    const mtu = i === 4 ? 1000 : undefined;
    lab.veth({ ns: relay, ifname: `out${i}`, addr: `10.7${i}.0.1/24`, mtu }, { ns: dst, ifname: `eth${i}`, addr: `10.7${i}.0.2/24`, mtu });
    // The kernel computes the UDP checksum of what its sockets send only when the device cannot:
    // with tx offload off it does, so the capture can check both send paths' checksums.
    lab.offload(relay, `out${i}`, "tx", false);
  }
  lab.sh(src, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
  lab.sysctl(dst, "net.core.rmem_max", String(8 << 20));
});

afterAll(() => lab?.destroy());

/** Captures on the receiving ends (tests/lib/wire.ts). */
const capture = (ifaces: string[], ms: number) => captureIn(lab, dst, ifaces, ms);

describe("fan-out", () => {
  test.each(["raw", "socket"])("1:4 across 4 veths (send %s): every receiver gets every packet once, byte-exact; frames well formed; TTL, DSCP, checksums as configured", async (send) => {
    const N = 4000;
    const outputs = [
      { interface: "out0", group: "239.10.0.1", port: 7000, ttl: 5, dscp: 46, send },
      { interface: "out1", group: "239.10.0.2", port: 7001, ttl: 9, send },
      { interface: "out2", group: "239.10.0.3", port: 7002, ttl: 3, dscp: 10, send, udpChecksum: false },
      { interface: "out3", group: "239.10.0.4", port: 7003, send },
      // Back out of the input interface: were the relay to receive its own frames, rule "echo" would count them.
      { interface: "in0", group: "239.10.0.9", port: 7009, send },
    ];
    const rules = [
      { name: "fan", input: { interface: "in0", group: "239.1.1.1", port: 5000 }, outputs },
      { name: "echo", input: { interface: "in0", group: "239.10.0.9", port: 7009 }, outputs: [{ interface: "out0", group: "239.10.0.99", port: 7099 }] },
    ];
    const r = await TestRelay.start(lab, relay, { rules });
    try {
      const sinks = outputs.slice(0, 4).map((o, i) =>
        startSink(lab, dst, ["--group", o.group, "--port", String(o.port), "--interface", `eth${i}`, "--expect", String(N)]));
      const cap = capture(["eth0", "eth1", "eth2", "eth3"], 4500);
      await Promise.all(sinks.map((s) => s.ready));
      await cap.ready();
      const bl = backlogDrops();
      await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "eth0", "--rate", "2000", "--size", "1000", "--count", String(N)]);
      const got = await Promise.all(sinks.map((s) => s.result));
      for (const g of got) {
        expectExactlyOnce(g, N, r, bl);
        expect(g.senders).toHaveLength(1);
      }
      const wire = await cap.wire();
      const at = (i: number) => wire[`${outputs[i].group}:${outputs[i].port}`];
      for (let i = 0; i < 4; i++) {
        expect(at(i)).toMatchObject({ ...clean, packets: N, unique: N, src: [`10.7${i}.0.1`] });
        expect(at(i).sports).toHaveLength(1);
        expect(at(i).ids).toBeGreaterThan(N / 2); // the IP ID varies
      }
      expect(at(0)).toMatchObject({ ttl: [5], tos: [46 << 2], zeroUdpSum: 0 });
      expect(at(1)).toMatchObject({ ttl: [9], tos: [0], zeroUdpSum: 0 });
      expect(at(2)).toMatchObject({ ttl: [3], tos: [10 << 2], zeroUdpSum: N }); // udpChecksum false: "none"
      expect(at(3)).toMatchObject({ ttl: [16], zeroUdpSum: 0 }); // the default TTL
      const s = await settled(() => r.stats(), (s) => s.rules[0].txPackets === 5 * N);
      const [fan, echo] = s.rules;
      expect(fan).toMatchObject({ rxPackets: N, txPackets: 5 * N, txBytes: 5 * N * 1000 });
      expect(fan.outputStats.map((o) => [o.index, o.txPackets, o.txBytes, o.drops])).toEqual(
        outputs.map((_, i) => [i, N, N * 1000, { mtu_exceeded: 0, send_error: 0 }]));
      expect(echo.rxPackets).toBe(0);
      expect(s.workers[0].ingress.matched).toBe(N);
    } finally {
      await r.stop();
    }
  }, 90_000);

  test("1:4 with two worker pairs and MCRELAY_TUNE_SPLIT=on: the egresses share the outputs (each sends half the copies); every receiver gets every packet once; another rule on the input is kept by one pair; nothing counted twice", async () => {
    const N = 4000, M = 1000;
    const outputs = [0, 1, 2, 3].map((i) => ({ interface: `out${i}`, group: `239.11.0.${i + 1}`, port: 7200 + i }));
    const rules = [
      { name: "split", input: { interface: "in0", group: "239.1.1.2", port: 5002 }, outputs },
      { name: "solo", input: { interface: "in0", group: "239.1.1.3", port: 5003 }, outputs: [{ interface: "out0", group: "239.11.1.1", port: 7300 }] },
    ];
    const r = await TestRelay.start(lab, relay, { rules }, { workers: 2, env: { MCRELAY_TUNE_SPLIT: "on" } });
    try {
      const sinks = outputs.map((o, i) => startSink(lab, dst, ["--group", o.group, "--port", String(o.port), "--interface", `eth${i}`, "--expect", String(N)]));
      const solo = startSink(lab, dst, ["--group", "239.11.1.1", "--port", "7300", "--interface", "eth0", "--expect", String(M)]);
      await Promise.all([...sinks, solo].map((x) => x.ready));
      const bl = backlogDrops();
      await Promise.all([
        runGen(lab, src, ["--group", "239.1.1.2", "--port", "5002", "--interface", "eth0", "--rate", "2000", "--size", "800", "--count", String(N)]),
        runGen(lab, src, ["--group", "239.1.1.3", "--port", "5003", "--interface", "eth0", "--rate", "500", "--size", "300", "--count", String(M)]),
      ]);
      for (const g of await Promise.all(sinks.map((x) => x.result))) expectExactlyOnce(g, N, r, bl);
      expectExactlyOnce(await solo.result, M, r, bl);
      const s = await settled(() => r.stats(), (s) => s.rules[0].txPackets === 4 * N && s.rules[1].txPackets === M);
      expect(s.rules[0]).toMatchObject({ rxPackets: N, txPackets: 4 * N });
      expect(s.rules[0].outputStats.map((o) => o.txPackets)).toEqual([N, N, N, N]);
      expect(s.rules[1]).toMatchObject({ rxPackets: M, txPackets: M });
      // Egress 0 sent outputs 0 and 2, egress 1 outputs 1 and 3; "solo" went through one of them.
      const sends = s.workers.map((w) => w.egress.sends);
      expect(sends.reduce((a, b) => a + b, 0)).toBe(4 * N + M);
      expect(sends.map((x) => x - 2 * N).sort()).toEqual([0, M]);
      // Both ingresses read in0 whole; each packet is counted by one of them.
      expect(s.workers.reduce((a, w) => a + w.ingress.matched, 0)).toBe(N + M);
    } finally {
      await r.stop();
    }
  }, 90_000);

  test("1:4 with gso: true at a rate that batches: datagrams leave as super-frames, the interface (tx offload off: the kernel) cuts them; every receiver gets every packet once, byte-exact; frames well formed, IP ID varying, TTL and DSCP as configured", async () => {
    const N = 6000;
    const outputs = [0, 1, 2, 3].map((i) => ({ interface: `out${i}`, group: `239.12.0.${i + 1}`, port: 7400 + i, gso: true, ttl: 4 + i, dscp: i === 0 ? 46 : 0 }));
    // A 1,100 B datagram beside the 1,000 B ones: a super-frame carries datagrams of one length.
    const r = await TestRelay.start(lab, relay, { rules: [{ name: "gso", input: { interface: "in0", group: "239.1.1.4", port: 5004 }, outputs }] });
    try {
      const sinks = outputs.map((o, i) => startSink(lab, dst, ["--group", o.group, "--port", String(o.port), "--interface", `eth${i}`, "--expect", String(N + 10)]));
      const cap = capture(["eth0", "eth1", "eth2", "eth3"], 5000);
      await Promise.all(sinks.map((x) => x.ready));
      await cap.ready();
      const bl = backlogDrops();
      await runGen(lab, src, ["--group", "239.1.1.4", "--port", "5004", "--interface", "eth0", "--rate", "60000", "--size", "1000", "--count", String(N)]);
      await runGen(lab, src, ["--group", "239.1.1.4", "--port", "5004", "--interface", "eth0", "--rate", "1000", "--size", "1100", "--count", "10", "--first-seq", String(N)]);
      for (const g of await Promise.all(sinks.map((x) => x.result))) expectExactlyOnce(g, N + 10, r, bl);
      const wire = await cap.wire();
      for (let i = 0; i < 4; i++) {
        const w = wire[`${outputs[i].group}:${outputs[i].port}`];
        expect(w).toMatchObject({ ...clean, packets: N + 10, unique: N + 10, zeroUdpSum: 0, ttl: [4 + i], tos: [i === 0 ? 46 << 2 : 0] });
        expect(w.ids).toBe(N + 10); // each segment its own IP ID
      }
      const s = await settled(() => r.stats(), (s) => s.rules[0].txPackets === 4 * (N + 10));
      expect(s.rules[0]).toMatchObject({ rxPackets: N + 10, txPackets: 4 * (N + 10), txBytes: 4 * (N * 1000 + 10 * 1100) });
      expect(s.rules[0].outputStats.map((o) => [o.txPackets, o.drops.send_error])).toEqual([0, 1, 2, 3].map(() => [N + 10, 0]));
      // Many went as super-frames (a datagram alone in its turn goes plain: how many share a turn
      // depends on the host's load — 20–60 % of them here), and each held two or more.
      const e = s.workers[0].egress;
      expect(e.gsoSends).toBeGreaterThan(0);
      expect(e.gsoDatagrams).toBeGreaterThan(N / 10);
      expect(e.gsoDatagrams).toBeGreaterThanOrEqual(2 * e.gsoSends);
      expect(e.gsoDatagrams).toBeLessThanOrEqual(4 * (N + 10));
      expect(e.sends).toBe(4 * (N + 10));
    } finally {
      await r.stop();
    }
  }, 90_000);

  test("1:50 (50 groups on 4 interfaces) at a moderate rate: nothing lost, nothing duplicated", async () => {
    const N = 2000;
    const outputs = Array.from({ length: 50 }, (_, i) => ({ interface: `out${i % 4}`, group: `239.20.0.${i + 1}`, port: 8000 + i }));
    const r = await TestRelay.start(lab, relay, { rules: [{ name: "fifty", input: { interface: "in0", group: "239.1.1.1", port: 5001 }, outputs }] });
    try {
      const cap = capture(["eth0", "eth1", "eth2", "eth3"], 7000);
      await cap.ready();
      await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5001", "--interface", "eth0", "--rate", "500", "--size", "200", "--count", String(N)]);
      const wire = await cap.wire();
      for (const o of outputs) expect({ key: `${o.group}:${o.port}`, ...wire[`${o.group}:${o.port}`] }).toMatchObject({ key: `${o.group}:${o.port}`, ...clean, packets: N, unique: N });
      const s = await settled(() => r.stats(), (s) => s.rules[0].txPackets === 50 * N);
      expect(s.rules[0]).toMatchObject({ rxPackets: N, txPackets: 50 * N });
      expect(s.rules[0].outputStats).toHaveLength(50);
      expect(s.rules[0].outputStats.every((o) => o.txPackets === N)).toBe(true);
      expect(s.drops).toMatchObject({ pool_exhausted: 0, ring_full: 0, send_error: 0 });
    } finally {
      await r.stop();
    }
  }, 90_000);

  test.each(["raw", "socket"])("payload bigger than an output's MTU (send %s): dropped and counted as mtu_exceeded, never fragmented; the other output gets it", async (send) => {
    const outputs = [{ interface: "out0", group: "239.30.0.1", port: 7100, send }, { interface: "out4", group: "239.30.0.2", port: 7101, send }];
    const r = await TestRelay.start(lab, relay, { rules: [{ name: "mtu", input: { interface: "in0", group: "239.1.1.1", port: 5002 }, outputs }] });
    try {
      const cap = capture(["eth0", "eth4"], 2500);
      await cap.ready();
      // out4's MTU of 1,000 takes at most 972 B of payload: the 1,000 B datagrams are dropped there, the 900 B ones go.
      await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5002", "--interface", "eth0", "--rate", "1000", "--size", "1000", "--count", "100"]);
      await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5002", "--interface", "eth0", "--rate", "1000", "--size", "900", "--count", "10"]);
      const wire = await cap.wire();
      expect(wire["239.30.0.1:7100"]).toMatchObject({ ...clean, packets: 110 });
      expect(wire["239.30.0.2:7101"]).toMatchObject({ ...clean, packets: 10 });
      const s = await settled(() => r.stats(), (s) => s.rules[0].txPackets === 120);
      expect(s.rules[0]).toMatchObject({ rxPackets: 110, txPackets: 120 });
      expect(s.rules[0].drops.mtu_exceeded).toBe(100);
      expect(s.rules[0].outputStats.map((o) => [o.txPackets, o.drops.mtu_exceeded])).toEqual([[110, 0], [10, 100]]);
      expect(s.drops.mtu_exceeded).toBe(100);
      // The same through the API and /metrics.
      const api = await r.api("GET", "/api/v1/stats");
      expect(api.body.rules[0].outputStats[1]).toMatchObject({ index: 1, txPackets: 10, drops: { mtu_exceeded: 100 } });
      const m = await metricsText(r);
      expect(metric(m, "mcrelay_output_drops_total", { rule: "mtu", output: "1", reason: "mtu_exceeded" })).toBe(100);
      expect(metric(m, "mcrelay_output_tx_packets_total", { rule: "mtu", output: "0" })).toBe(110);
    } finally {
      await r.stop();
    }
  }, 60_000);
});
