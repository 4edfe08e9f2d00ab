// bun run bench:redundancy — what seamless redundancy costs per packet.
//  1. the merge alone (no sockets): ns per packet pushed, two paths (A loses every 10th, B every
//     7th), against a stage that only passes packets on;
//  2. end to end in namespaces: a plain rule fed 100k pps, against a redundant rule fed the same
//     stream on two paths at 100k pps each: the workers' CPU time (/proc) per packet received and
//     per packet forwarded, and what the receiver got.
// Flags: --rates 25000,100000 (per path) --seconds 3 --size 200 --micro-only --json
// Root is needed for part 2 (network namespaces). The numbers depend on how busy the machine is.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Lab } from "../lab/netns.ts";
import { runGen, startSink } from "../lab/procs.ts";
import { redundancySchema } from "../rules/schema.ts";
import { MAX_PATHS, PATH_COUNTERS } from "../shm/layout.ts";
import { merge } from "../services/egress/stages/merge.ts";
import { TestRelay, backlogDrops } from "../tests/lib/relay.ts";

const { values: a } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    rates: { type: "string", default: "25000,100000" },
    seconds: { type: "string", default: "3" },
    size: { type: "string", default: "200" },
    "micro-only": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const RATES = a.rates!.split(",").map(Number), SECONDS = Number(a.seconds), SIZE = Number(a.size);
const log = (s: string) => console.error(s);

/** Part 1: ns per packet through the merge, and through a stage that only passes packets on. */
function micro(packets = 2_000_000): { mergeNs: number; passNs: number } {
  const N = 4096; // slots, reused round robin
  const bytes = new Uint8Array(N * 64);
  const path = new Uint8Array(N);
  const cfg = { ...redundancySchema.parse({ mode: "rtp" }), paths: 2 };
  let sent = 0;
  let now = 0;
  const m = merge(cfg, {
    bytes, start: (s) => s * 64, len: () => 64, path: (s) => path[s]!, stamp: () => now, now: () => now, pending: () => false,
    counters: new Float64Array(MAX_PATHS * PATH_COUNTERS.length), discard: () => {}, lost: () => {}, event: () => {},
  }, () => void sent++);
  const pass = { push: (_s: number) => void sent++ };
  const fill = (slot: number, seq: number, p: number) => {
    const o = slot * 64;
    bytes[o] = 0x80;
    bytes[o + 2] = (seq >> 8) & 0xff;
    bytes[o + 3] = seq & 0xff;
    bytes[o + 8] = 0x12;
    path[slot] = p;
  };
  const run = (push: (s: number) => void) => {
    let slot = 0, pushed = 0;
    const t0 = Bun.nanoseconds();
    for (let seq = 0; pushed < packets; seq++) {
      now = seq / 100; // 100k pps
      for (let p = 0; p < 2; p++) {
        if ((p === 0 && (seq + 1) % 10 === 0) || (p === 1 && (seq + 1) % 7 === 0)) continue;
        fill(slot, seq & 0xffff, p);
        push(slot);
        slot = (slot + 1) % N;
        pushed++;
      }
      if ((seq & 63) === 0) m.pull!(now);
    }
    return (Bun.nanoseconds() - t0) / pushed;
  };
  run((s) => pass.push(s)); // warm both up
  run((s) => m.push(s));
  return { passNs: run((s) => pass.push(s)), mergeNs: run((s) => m.push(s)) };
}

/** utime + stime of a process, in seconds (0 for one that is gone: the run is then reported as broken). */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

interface E2E { label: string; offeredPps: number; sentPps: number; kernelDrops: number; rx: number; tx: number; sinkUnique: number; expected: number; cpuS: number; nsPerRx: number; nsPerTx: number; restarts: number; sequenceLost: number; late: number; backlog: number }

async function endToEnd(RATE: number): Promise<E2E[]> {
  const lab = Lab.create("rbench");
  try {
    const src = lab.ns("src"), rly = lab.ns("rly"), dst = lab.ns("dst");
    lab.veth({ ns: src, ifname: "eth0", addr: "10.99.1.2/24" }, { ns: rly, ifname: "in0", addr: "192.168.50.1/24" });
    lab.veth({ ns: src, ifname: "eth1", addr: "10.98.1.2/24" }, { ns: rly, ifname: "in1", addr: "192.168.51.1/24" });
    lab.veth({ ns: rly, ifname: "out0", addr: "10.77.0.1/24" }, { ns: dst, ifname: "eth0", addr: "10.77.0.2/24" });
    lab.sh(src, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
    lab.sysctl(dst, "net.core.rmem_max", String(32 << 20));
    const out = [{ interface: "out0", group: "239.30.0.1", port: 6000 }];
    const cases = [
      { label: "plain rule, one input", rule: { name: "plain", input: { interface: "in0", group: "239.10.0.1", port: 5000 }, outputs: out }, paths: 1 },
      { label: "redundant rule, two paths (A −1/10, B −1/7)", paths: 2, rule: { name: "ab", outputs: out, redundancy: { mode: "rtp", windowMs: 200, windowPackets: 32768 }, // 200 ms at 100k pps: 20,000 numbers
        inputs: [{ interface: "in0", group: "239.10.0.1", port: 5000 }, { interface: "in1", group: "239.20.0.1", port: 5000 }] } },
    ];
    const results: E2E[] = [];
    const n = RATE * SECONDS;
    for (const c of cases) {
      const r = await TestRelay.start(lab, rly, { rules: [c.rule] }, { workers: 1, noApi: true });
      try {
        const pids = r.status().workers.map((w) => w.pid);
        const sink = startSink(lab, dst, ["--group", "239.30.0.1", "--port", "6000", "--interface", "eth0", "--rtp", "--idle", "2000", "--timeout", String(SECONDS * 1000 + 15000)]);
        await sink.ready;
        const cpu0 = pids.reduce((s, p) => s + cpuSeconds(p), 0);
        const kd0 = r.stats().drops.kernel_ring_full;
        const bl0 = backlogDrops();
        const paths = c.paths === 2 ? ["--second-group", "239.20.0.1", "--second-interface", "eth1", "--drop-every", "10,7"] : [];
        const g = await runGen(lab, src, ["--group", "239.10.0.1", "--port", "5000", "--interface", "eth0", "--rtp", "--rate", String(RATE), "--size", String(SIZE), "--count", String(n), ...paths]);
        await Bun.sleep(500);
        const cpuS = pids.reduce((s, p) => s + cpuSeconds(p), 0) - cpu0;
        const got = await sink.result;
        const st = r.stats().rules[0]!;
        const restarts = r.status().workers.reduce((n, w) => n + w.restarts, 0);
        if (restarts > 0) log(`${c.label}: a worker was replaced during the run (CPU not comparable):\n${r.logs().split("\n").filter((l) => /"level":(40|50|60)|error|Error/.test(l)).slice(-20).join("\n")}`);
        const expected = c.paths === 2 ? n - Math.floor(n / 70) : n;
        results.push({ label: c.label, offeredPps: RATE * c.paths, sentPps: g.pps, kernelDrops: r.stats().drops.kernel_ring_full - kd0, restarts, sequenceLost: st.sequenceLost, late: st.drops.redundant_late, backlog: backlogDrops() - bl0, rx: st.rxPackets, tx: st.txPackets, sinkUnique: got.unique, expected, cpuS,
          nsPerRx: (cpuS * 1e9) / st.rxPackets, nsPerTx: (cpuS * 1e9) / st.txPackets });
        log(`${c.label}: rx ${st.rxPackets} tx ${st.txPackets} sink ${got.unique}/${expected}, workers ${cpuS.toFixed(2)} CPU-s`);
      } finally {
        await r.stop();
      }
    }
    return results;
  } finally {
    lab.destroy();
  }
}

const m = micro();
log(`merge alone: ${m.mergeNs.toFixed(1)} ns per packet pushed; a stage that only passes packets on: ${m.passNs.toFixed(1)} ns`);
const e2e: E2E[] = [];
if (!a["micro-only"]) for (const rate of RATES) e2e.push(...(await endToEnd(rate)));
const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
if (a.json) console.log(JSON.stringify({ micro: m, e2e, loadavg: load, rates: RATES, seconds: SECONDS, size: SIZE }));
else {
  console.log(`| | offered | gen sent | kernel backlog drops | kernel ring drops | received | forwarded | lost on all paths (late) | receiver got | workers' CPU | per packet received | per packet forwarded |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
  for (const r of e2e) {
    console.log(`| ${r.label} | ${Math.round(r.offeredPps / 1000)}k pps | ${Math.round(r.sentPps / 1000)}k pps | ${r.backlog} | ${r.kernelDrops} | ${r.rx} | ${r.tx} | ${r.sequenceLost} (${r.late}) | ${r.sinkUnique} of ${r.expected} | ${r.cpuS.toFixed(2)} s | ${Math.round(r.nsPerRx)} ns | ${Math.round(r.nsPerTx)} ns |${r.restarts ? " (a worker was replaced)" : ""}`);
  }
  console.log(`\nmerge alone: ${m.mergeNs.toFixed(1)} ns/packet (pass-through stage ${m.passNs.toFixed(1)} ns); load average ${load}`);
}
