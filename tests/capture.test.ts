// Packet capture of a rule, as an operator uses it: the API's pcap stream and `mcrelay capture`,
// read back with tcpdump -r; what was received on the input and what was sent on the output are
// the same datagrams, byte for byte; a bad query names its field; nothing is left behind.
//   src --veth-- relay --veth-- dst
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Lab } from "../lab/netns.ts";
import { runCli } from "./lib/cli.ts";
import { settled } from "./lib/settled.ts";
import { relayTopology } from "./lib/topology.ts";
import { TestRelay, runGen } from "./lib/relay.ts";

let lab: Lab;
let src: string, relay: string, left: string;
let r: TestRelay;
const tmp = mkdtempSync(join(tmpdir(), "mcrelay-capture-"));

const feed = {
  id: "feed", input: { interface: "in0", group: "239.1.1.1", port: 5001 },
  outputs: [{ interface: "out0", group: "239.2.2.2", port: 6001, ttl: 5 }],
};
const waiting = { id: "waits", input: { interface: "nosuch0", group: "239.1.1.9", port: 5009 }, outputs: [{ interface: "out0", group: "239.2.2.9", port: 6009 }] };

beforeAll(async () => {
  ({ lab, src, relay } = relayTopology("capt"));
  // A link beside the rules: left --veth-- [la relay lb] --veth-- right
  left = lab.ns("left");
  const right = lab.ns("right");
  lab.veth({ ns: left, ifname: "eth0", addr: "10.50.0.1/24" }, { ns: relay, ifname: "la" });
  lab.veth({ ns: relay, ifname: "lb" }, { ns: right, ifname: "eth0", addr: "10.50.0.2/24" });
  r = await TestRelay.start(lab, relay, { rules: [feed, waiting], links: [{ id: "lab", a: "la", b: "lb" }] });
  await r.apiReady();
});
afterAll(async () => {
  await r?.stop();
  lab?.destroy();
  rmSync(tmp, { recursive: true, force: true });
});

/** A capture started through the API; ready() resolves once its pcap header came (it sees packets from then on). */
function startCapture(path: string) {
  const ac = new AbortController();
  const res = fetch(`http://relay${path}`, { headers: { authorization: `Bearer ${r.token}` }, unix: r.apiSocket, signal: ac.signal } as RequestInit);
  const chunks: Uint8Array[] = [];
  let first: () => void = () => {};
  const ready = new Promise<void>((res) => (first = res));
  const done = (async () => {
    const rsp = await res;
    expect(rsp.status).toBe(200);
    expect(rsp.headers.get("content-type")).toBe("application/vnd.tcpdump.pcap");
    for await (const c of rsp.body! as unknown as AsyncIterable<Uint8Array>) {
      chunks.push(c);
      first();
    }
    return Buffer.concat(chunks);
  })();
  return { ready, done, abort: () => ac.abort() };
}

/** The frames of a pcap file: time stamp and bytes. */
function records(pcap: Buffer): Buffer[] {
  expect(pcap.readUInt32LE(0)).toBe(0xa1b23c4d); // nanosecond pcap
  const out: Buffer[] = [];
  for (let o = 24; o < pcap.length; ) {
    const caplen = pcap.readUInt32LE(o + 8);
    out.push(pcap.subarray(o + 16, o + 16 + caplen));
    o += 16 + caplen;
  }
  return out;
}

/** The UDP payload of an untagged IPv4 frame. */
const payload = (f: Buffer) => f.subarray(14 + (f[14]! & 15) * 4 + 8);

const tcpdump = (file: string) => {
  const p = Bun.spawnSync(["tcpdump", "-n", "-r", file], { stdout: "pipe", stderr: "pipe" });
  expect({ code: p.exitCode, stderr: p.stderr.toString().replace(/reading from file .*\n/, "") }).toEqual({ code: 0, stderr: "" });
  return p.stdout.toString().trim().split("\n").filter(Boolean);
};

const gen = (count: number) => runGen(lab, src, ["--group", "239.1.1.1", "--port", "5001", "--rate", "500", "--size", "200", "--count", String(count)]);

describe("capture", () => {
  test("received and sent: the next 20 packets each, read by tcpdump -r; the same datagrams byte for byte", async () => {
    const rx = startCapture("/api/v1/rules/feed/capture?count=20&seconds=30");
    const tx = startCapture("/api/v1/rules/feed/capture?count=20&seconds=30&direction=sent");
    await Promise.all([rx.ready, tx.ready]);
    await gen(100);
    const [a, b] = await Promise.all([rx.done, tx.done]);
    writeFileSync(join(tmp, "rx.pcap"), a);
    writeFileSync(join(tmp, "tx.pcap"), b);
    const rxLines = tcpdump(join(tmp, "rx.pcap"));
    const txLines = tcpdump(join(tmp, "tx.pcap"));
    expect(rxLines).toHaveLength(20);
    expect(txLines).toHaveLength(20);
    for (const l of rxLines) expect(l).toMatch(/IP 10\.99\.1\.2\.\d+ > 239\.1\.1\.1\.5001: UDP, length 200$/);
    for (const l of txLines) expect(l).toMatch(/IP 10\.77\.0\.1\.\d+ > 239\.2\.2\.2\.6001: UDP, length 200$/);
    const [ra, rb] = [records(a), records(b)];
    expect(rb.map((f) => f[22])).toEqual(Array(20).fill(5)); // the output's TTL
    expect(rb.map((f) => payload(f).toString("hex"))).toEqual(ra.map((f) => payload(f).toString("hex")));
    // Each capture ended by itself: its process and FIFO are gone.
    await settled(() => r.logs().match(/capture ended/g)?.length ?? 0, (n) => n >= 2, 5000);
    expect(readdirSync(join(r.stateDir, "api", "capture"))).toEqual([]);
  }, 60_000);

  test("mcrelay capture -w FILE, and both directions into one file", async () => {
    const file = join(tmp, "cli.pcap");
    const cli = runCli(r, ["capture", "feed", "--count", "10", "--direction", "both", "-w", file, "--seconds", "30"], { conn: "flags" });
    // The CLI's capture has begun once its file holds the pcap header.
    await settled(() => (existsSync(file) ? Bun.file(file).size : 0), (n) => n >= 24, 10_000);
    await gen(50);
    const res = await cli;
    expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: "" });
    const lines = tcpdump(file);
    expect(lines).toHaveLength(10);
    expect(lines.some((l) => l.includes("> 239.1.1.1.5001"))).toBe(true);
    expect(lines.some((l) => l.includes("> 239.2.2.2.6001"))).toBe(true);
  }, 60_000);

  test("a client that goes away ends the capture at once, packets or not", async () => {
    const c = startCapture("/api/v1/rules/feed/capture?count=100000&seconds=600");
    await c.ready;
    const before = r.logs().match(/capture ended/g)?.length ?? 0;
    c.abort(); // no packet comes after it: the capture sees the reader gone by itself
    await c.done.catch(() => {});
    expect(await settled(() => r.logs().match(/capture ended/g)?.length ?? 0, (n) => n > before, 5000)).toBe(before + 1);
  }, 30_000);

  test("a link: every frame at its ends, both ways (ping's requests at a, its replies at b)", async () => {
    await settled(() => r.status(), (st) => st.links?.[0]?.state === "active");
    expect(lab.sh(left, ["ping", "-n", "-c", "1", "-W", "2", "10.50.0.2"]).code).toBe(0); // ARP done before
    const c = startCapture("/api/v1/links/lab/capture?count=10&seconds=30");
    await c.ready;
    expect(lab.sh(left, ["ping", "-n", "-c", "5", "-i", "0.05", "-W", "2", "10.50.0.2"]).code).toBe(0);
    const file = join(tmp, "link.pcap");
    writeFileSync(file, await c.done);
    const lines = tcpdump(file);
    expect(lines.filter((l) => /IP 10\.50\.0\.1 > 10\.50\.0\.2: ICMP echo request/.test(l))).toHaveLength(5);
    expect(lines.filter((l) => /IP 10\.50\.0\.2 > 10\.50\.0\.1: ICMP echo reply/.test(l))).toHaveLength(5);
  }, 30_000);

  test("bad queries name the field; an unknown rule is 404, one that does not forward 409, no token 401", async () => {
    const bad = await r.api("GET", "/api/v1/rules/feed/capture?count=0&direction=up");
    expect([bad.status, bad.body.issues.map((i: any) => i.path)]).toEqual([422, [["count"], ["direction"]]]);
    expect((await r.api("GET", "/api/v1/rules/nope/capture")).status).toBe(404);
    const idle = await r.api("GET", "/api/v1/rules/waits/capture");
    expect([idle.status, idle.body.error]).toEqual([409, expect.stringContaining("waiting")]);
    expect((await r.api("GET", "/api/v1/rules/feed/capture", undefined, { auth: false })).status).toBe(401);
    const cli = await runCli(r, ["capture", "feed", "--count", "many", "-w", join(tmp, "x.pcap")], { conn: "flags" });
    expect([cli.code, cli.stderr]).toEqual([2, expect.stringContaining("--count")]);
  }, 30_000);
});
