// What socat and the kernel's multicast routing (smcrouted) deliver on the demo's topology with the
// same traffic, measured in the same run. Both sit on ordinary sockets/routes, so the reverse-path
// filter drops the unroutable source before they see anything; a short control stream from an
// address the relay can route back to shows they do work when RPF lets the packets through.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Lab } from "../netns.ts";
import { collect, spawnGen, startSink } from "../procs.ts";
import { mrouteVifs, netstatCounter, udpPortBound } from "./probe.ts";

export interface Topology {
  lab: Lab;
  src: string;
  rly: string;
  rxa: string;
  rxb: string;
  /** a process in the relay namespace, to read its /proc/<pid>/net */
  rlyAnchor: number;
  input: { group: string; port: number };
  /** the source address the relay cannot route back to */
  source: string;
  /** the relay namespace's address on out0 (socat's ip-multicast-if) */
  out0Addr: string;
  /** an address on the source's link that the relay can route back to (the control) */
  routableSource: string;
  tmp: string;
}

export interface ToolResult {
  tool: string;
  how: string;
  skipped?: string;
  /** per receiver: unique packets received of `sent` */
  delivered: { at: string; unique: number }[];
  control: { at: string; unique: number }[];
}

export interface Comparison {
  sent: number;
  controlSent: number;
  rpDrops: number | null;
  results: ToolResult[];
}

type Say = (line: string) => void;

/** The tool's binary, installing its Debian package when missing and running as root. */
function ensureTool(bin: string, pkg: string, say: Say): string | null {
  const found = Bun.which(bin, { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` });
  if (found) return found;
  if (process.getuid?.() !== 0) return null;
  say(`  (${bin} is missing: apt-get install -y ${pkg} …)`);
  const r = Bun.spawnSync(["apt-get", "install", "-y", "-q", pkg], { stdout: "ignore", stderr: "pipe", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (r.exitCode !== 0) say(`  (apt-get install ${pkg} failed: ${r.stderr.toString().trim().split("\n").pop()})`);
  return Bun.which(bin, { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` });
}

async function until(ok: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(20);
  }
  return true;
}

interface Watch {
  at: string;
  tool: string;
  ns: string;
  group: string;
  port: number;
}

/** Sinks for every watched output, one generator run, the sinks' unique counts. */
async function measure(t: Topology, watches: Watch[], genArgs: string[], count: number, rate: number) {
  const ms = Math.ceil((count / rate) * 1000);
  const sinks = watches.map((w) => startSink(t.lab, w.ns, ["--group", w.group, "--port", String(w.port), "--interface", "eth0",
    "--expect", String(count), "--timeout", String(ms + 1500), "--idle", "1000"]));
  await Promise.all(sinks.map((s) => s.ready));
  const gen = spawnGen(t.lab, t.src, ["--group", t.input.group, "--port", String(t.input.port), "--rate", String(rate), "--count", String(count), ...genArgs]);
  const sent = (await gen.done).sent as number;
  const got = await Promise.all(sinks.map((s) => s.result));
  return { sent, unique: got.map((g) => g.unique as number) };
}

export async function compare(t: Topology, o: { count: number; rate: number; size: number }, say: Say): Promise<Comparison> {
  const socat = ensureTool("socat", "socat", say);
  const smcrouted = ensureTool("smcrouted", "smcroute", say);
  const results: ToolResult[] = [];
  const watches: Watch[] = [];
  const stoppers: (() => Promise<void>)[] = [];
  const stop = (p: Bun.Subprocess) => async () => {
    p.kill("SIGTERM");
    await Promise.race([p.exited, Bun.sleep(3000)]);
  };

  const socatHow = `socat UDP4-RECV ${t.input.group}:${t.input.port} on in0 → UDP4-SEND 239.4.4.4:6002 via out0`;
  if (socat) {
    const p = t.lab.spawn(t.rly, [socat, "-u",
      `UDP4-RECV:${t.input.port},ip-add-membership=${t.input.group}:in0,reuseaddr`,
      `UDP4-SEND:239.4.4.4:6002,ip-multicast-if=${t.out0Addr},ip-multicast-ttl=8`]);
    const err = collect(p.stderr);
    stoppers.push(stop(p));
    if (await until(() => udpPortBound(t.rlyAnchor, t.input.port) || p.exitCode !== null, 3000) && p.exitCode === null) {
      watches.push({ at: "rxa", tool: "socat", ns: t.rxa, group: "239.4.4.4", port: 6002 });
    } else results.push({ tool: "socat", how: socatHow, skipped: `socat did not start: ${err.text().trim() || `exit ${p.exitCode}`}`, delivered: [], control: [] });
  } else results.push({ tool: "socat", how: socatHow, skipped: "socat is not installed (apt-get install socat)", delivered: [], control: [] });

  const kernelHow = `smcrouted: mroute from in0 group ${t.input.group} to out0 out1`;
  if (smcrouted) {
    const conf = join(t.tmp, "smcroute.conf");
    writeFileSync(conf, `mroute from in0 group ${t.input.group} to out0 out1\n`);
    const p = t.lab.spawn(t.rly, [smcrouted, "-n", "-f", conf, "-i", `mcrelay-demo-${t.lab.id}`,
      "-u", join(t.tmp, "smcroute.sock"), "-P", join(t.tmp, "smcroute.pid"), "-l", "notice"]);
    const err = collect(p.stderr);
    stoppers.push(stop(p));
    const vifs = () => mrouteVifs(t.rlyAnchor);
    if (await until(() => ["in0", "out0", "out1"].every((i) => vifs().includes(i)) || p.exitCode !== null, 5000) && p.exitCode === null) {
      await Bun.sleep(200); // the (*,G) rule is read right after the VIFs are set up
      watches.push({ at: "rxa", tool: "kernel", ns: t.rxa, group: t.input.group, port: t.input.port });
      watches.push({ at: "rxb", tool: "kernel", ns: t.rxb, group: t.input.group, port: t.input.port });
    } else results.push({ tool: "kernel", how: kernelHow, skipped: `smcrouted did not start: ${err.text().trim().split("\n").pop() || `exit ${p.exitCode}`}`, delivered: [], control: [] });
  } else results.push({ tool: "kernel", how: kernelHow, skipped: "smcroute is not installed (apt-get install smcroute)", delivered: [], control: [] });

  let sent = 0;
  let controlSent = 0;
  let rpDrops: number | null = null;
  try {
    if (watches.length) {
      const rp0 = netstatCounter(t.rlyAnchor, "TcpExt", "IPReversePathFilter");
      const main = await measure(t, watches, ["--source", t.source, "--size", String(o.size)], o.count, o.rate);
      const rp1 = netstatCounter(t.rlyAnchor, "TcpExt", "IPReversePathFilter");
      if (rp0 !== null && rp1 !== null) rpDrops = rp1 - rp0;
      sent = main.sent;
      // Gentle, so that what it shows is whether the tool forwards at all, not how it copes with bursts.
      const ctlRate = Math.min(o.rate, 1000);
      const ctl = await measure(t, watches, ["--source", t.routableSource, "--size", String(o.size)], Math.min(o.count, 300), ctlRate);
      controlSent = ctl.sent;
      for (const tool of ["socat", "kernel"]) {
        const idx = watches.map((w, i) => [w, i] as const).filter(([w]) => w.tool === tool);
        if (!idx.length) continue;
        results.push({
          tool, how: tool === "socat" ? socatHow : kernelHow,
          delivered: idx.map(([w, i]) => ({ at: w.at, unique: main.unique[i] })),
          control: idx.map(([w, i]) => ({ at: w.at, unique: ctl.unique[i] })),
        });
      }
    }
  } finally {
    await Promise.all(stoppers.map((s) => s()));
  }
  results.sort((a, b) => (a.tool === "socat" ? -1 : 1) - (b.tool === "socat" ? -1 : 1));
  return { sent, controlSent, rpDrops, results };
}
