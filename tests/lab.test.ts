// The lab tools themselves: payload format, and gen -> sink across two throw-away namespaces.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { checkPayload, PayloadWriter, writePayload } from "../lab/payload.ts";
import { Lab, requireRoot } from "../lab/netns.ts";

const ROOT = join(import.meta.dir, "..");
const BUN = join(ROOT, "node_modules/.bin/bun");
const isRoot = process.getuid?.() === 0;

describe("payload", () => {
  test("round trip, and every kind of damage is caught", () => {
    const buf = new Uint8Array(100);
    writePayload(buf, 7, 2 ** 40 + 3, 123456789012);
    expect({ ...checkPayload(buf, 100) }).toEqual({ ok: true, flow: 7, seq: 2 ** 40 + 3, tNs: 123456789012 });
    buf[60] ^= 1;
    expect(checkPayload(buf, 100).ok).toBe(false);
    expect(checkPayload(buf, 100).seq).toBe(2 ** 40 + 3); // header still readable
    buf[0] = 0;
    expect(checkPayload(buf, 100)).toMatchObject({ ok: false, flow: -1, seq: -1 });
    expect(checkPayload(buf, 10).ok).toBe(false);
  });

  test("PayloadWriter writes exactly what writePayload writes", () => {
    for (const size of [24, 25, 300, 1400]) {
      const w = new PayloadWriter(size);
      const ref = new Uint8Array(size);
      for (const [flow, seq] of [[0, 0], [1, 255], [9, 256], [3, 2 ** 52 + 1]]) {
        writePayload(ref, flow, seq, 42);
        expect([...w.write(flow, seq, 42)]).toEqual([...ref]);
      }
    }
  });
});

interface SinkResult {
  code: number;
  report: any;
  stderr: string;
}

describe("gen -> sink through two namespaces", () => {
  // Namespaces need root: a run without it fails here, rather than passing without testing.
  if (!isRoot) test("needs root", () => requireRoot());
  let lab: Lab;
  let src: string;
  let dst: string;
  const net = `10.201.${Math.floor(Math.random() * 250) + 1}`;

  beforeAll(() => {
    lab = Lab.create("lab");
    src = lab.ns("src");
    dst = lab.ns("dst");
    lab.veth({ ns: src, ifname: "s0", addr: `${net}.1/24` }, { ns: dst, ifname: "d0", addr: `${net}.2/24` });
    // Per-namespace limit; lets the sink's 8 MiB receive buffer take effect.
    lab.sysctl(dst, "net.core.rmem_max", String(8 << 20));
  });
  afterAll(() => lab?.destroy());

  /** Starts the sink and resolves once it has joined (it prints `ready` on stderr). */
  async function startSink(args: string[]): Promise<{ result: Promise<SinkResult> }> {
    const p = lab.spawn(dst, [BUN, "lab/sink.ts", "--interface", "d0", "--json", ...args], { cwd: ROOT });
    const reader = p.stderr.getReader();
    const dec = new TextDecoder();
    let stderr = "";
    const deadline = Date.now() + 10000;
    while (!/^ready$/m.test(stderr)) {
      const { value, done } = await reader.read();
      if (done || Date.now() > deadline) throw new Error(`sink did not get ready: ${stderr}`);
      stderr += dec.decode(value, { stream: true });
    }
    // Wrapped: an async function returning a bare promise would wait for the sink to finish.
    const result = (async () => {
      for (let r = await reader.read(); !r.done; r = await reader.read()) stderr += dec.decode(r.value, { stream: true });
      const [code, out] = await Promise.all([p.exited, new Response(p.stdout).text()]);
      let report: any;
      try {
        report = JSON.parse(out);
      } catch {
        throw new Error(`sink printed no JSON (exit ${code}): ${out} ${stderr}`);
      }
      return { code, report, stderr };
    })();
    return { result };
  }

  async function gen(args: string[]): Promise<any> {
    const p = lab.spawn(src, [BUN, "lab/gen.ts", "--interface", "s0", "--json", ...args], { cwd: ROOT });
    const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
    if (code !== 0) throw new Error(`gen exited ${code}: ${err}`);
    return JSON.parse(out);
  }

  test("10,000 packets of 1400 B at 5,000 pps arrive complete", async () => {
    const group = `239.77.${net.split(".")[2]}.1`;
    const sink = await startSink(["--group", group, "--port", "5001", "--expect", "10000"]);
    const g = await gen(["--group", group, "--port", "5001", "--rate", "5000", "--count", "10000", "--size", "1400"]);
    const { code, report, stderr } = await sink.result;
    expect(g.sent).toBe(10000);
    expect(g.pps).toBeGreaterThan(4900);
    expect(g.seconds).toBeLessThan(2.2);
    expect(report).toMatchObject({ received: 10000, unique: 10000, duplicates: 0, missing: 0, corrupted: 0 });
    expect(report.flows["0"].unique).toBe(10000);
    for (const k of ["p50", "p99", "p999", "max"]) expect(report.latencyUs[k]).toBeGreaterThan(0);
    expect(code, stderr).toBe(0);
  }, 30000);

  test("sink reports an injected duplicate, gap and corrupted payload", async () => {
    const group = `239.77.${net.split(".")[2]}.2`;
    const sink = await startSink(["--group", group, "--port", "5002", "--expect", "100", "--idle", "500", "--record-seqs"]);
    const g = await gen(["--group", group, "--port", "5002", "--rate", "2000", "--count", "100", "--size", "200",
      "--inject", "skip:50,dup:20,corrupt:70"]);
    const { code, report } = await sink.result;
    expect(g.sent).toBe(100); // 99 sequence numbers, one of them twice
    expect(report).toMatchObject({ received: 100, unique: 99, duplicates: 1, missing: 1, corrupted: 1, outOfOrder: 0 });
    expect(report.seqs).toEqual([...Array(100).keys()].filter((s) => s !== 50));
    expect(code).toBe(1);
  }, 30000);

  test("flows round-robin over distinct source ports, each with its own sequence", async () => {
    const group = `239.77.${net.split(".")[2]}.3`;
    const sink = await startSink(["--group", group, "--port", "5003", "--expect", "301", "--flows", "3"]);
    await gen(["--group", group, "--port", "5003", "--rate", "3000", "--count", "301", "--flows", "3", "--size", "64"]);
    const { code, report } = await sink.result;
    expect(code).toBe(0);
    expect(report.unique).toBe(301);
    expect(Object.keys(report.flows)).toEqual(["0", "1", "2"]);
    expect([0, 1, 2].map((f) => report.flows[f].unique)).toEqual([101, 100, 100]);
  }, 30000);
});
