// bun run bench:sendfloor — the floor under egress's CPU per copy: how long one raw multicast frame
// takes to leave through a veth when nothing but a C loop sends it (bench/sendfloor/floor.c), by
// four ways of sending (io_uring gathers as egress sends, sendmmsg(2), PACKET_TX_RING, UDP GSO
// super-frames as a gso output sends), into a
// receiving namespace that has joined the group (as bench:fanout's receivers) or not. The sender is
// pinned to one CPU; wall time per frame is what one core can do, the receiver's input included
// (on a veth it runs inside the send). Medians of interleaved rounds.
// Flags: --frames 1000000 --rounds 3 --sizes 64,1400 --modes uring,sendmmsg,txring,gso --batch 256
//        --cpu 1 --no-doc
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSection } from "./doc.ts";
import { cleanupAll, onCleanup, run, start, stop } from "./relay/proc.ts";
import { median } from "./relay/report.ts";

const MODES = ["uring", "sendmmsg", "txring", "gso"] as const;
const RECEIVERS = ["joined", "not joined"] as const;
type Mode = (typeof MODES)[number];
type Receiver = (typeof RECEIVERS)[number];

const repo = resolve(import.meta.dir, "..");
const { values: a } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    frames: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "3" },
    sizes: { type: "string", default: "64,1400" },
    modes: { type: "string", default: MODES.join(",") },
    batch: { type: "string", default: "256" },
    cpu: { type: "string", default: "1" },
    "no-doc": { type: "boolean", default: false },
  },
});
const frames = Number(a.frames);
const rounds = Number(a.rounds);
const sizes = a.sizes!.split(",").map(Number);
const modes = a.modes!.split(",") as Mode[];
const batch = Number(a.batch);
const bad = modes.filter((m) => !MODES.includes(m));
if (bad.length)
  throw new Error(`--modes takes: ${MODES.join(",")} (not ${bad.join(",")})`);
if (process.getuid?.() !== 0)
  throw new Error("bench:sendfloor needs root (network namespaces)");

const log = (s: string) => console.error(s);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
  process.on(
    sig,
    () => (log(`\n${sig}: cleaning up`), cleanupAll(), process.exit(130)),
  );
const t0 = Date.now();
const work = mkdtempSync(join(tmpdir(), "mcrsf-"));
onCleanup(() => rmSync(work, { recursive: true, force: true }));
const floor = join(work, "floor");
run([
  "gcc",
  "-O2",
  "-Wall",
  "-Wextra",
  "-Werror",
  "-o",
  floor,
  join(import.meta.dir, "sendfloor/floor.c"),
  "-luring",
]);

// src —veth— dst, unique names, deleted however the run ends.
const tag = `mrsf${process.pid % 100000}`;
const [src, dst] = [`${tag}s`, `${tag}d`];
for (const ns of [src, dst]) {
  run(["ip", "netns", "add", ns]);
  onCleanup(() => void run(["ip", "netns", "del", ns], { allowFail: true }));
}
const [out, into] = [`${tag}o`, `${tag}i`];
run([
  "ip",
  "link",
  "add",
  out,
  "netns",
  src,
  "type",
  "veth",
  "peer",
  "name",
  into,
  "netns",
  dst,
]);
for (const [ns, dev] of [
  [src, out],
  [dst, into],
] as const) {
  run(["ip", "-n", ns, "link", "set", "lo", "up"]);
  run(["ip", "-n", ns, "link", "set", dev, "up"]);
}
run(["ip", "-n", dst, "addr", "add", "10.99.0.2/24", "dev", into]);

const udp = (): number => {
  const lines = run(["ip", "netns", "exec", dst, "cat", "/proc/net/snmp"])
    .split("\n")
    .filter((l) => l.startsWith("Udp:"));
  const [k, v] = lines.map((l) => l.split(/\s+/).slice(1));
  const at = (name: string) => Number(v![k!.indexOf(name)]);
  return at("InDatagrams") + at("IgnoredMulti") + at("RcvbufErrors");
};

type Trial = {
  mode: Mode;
  payload: number;
  receiver: Receiver;
  wallNs: number;
  cpuNs: number;
  frames: number;
  delivered: number;
  errors: number;
};
const trials: Trial[] = [];

async function trial(
  mode: Mode,
  payload: number,
  receiver: Receiver,
): Promise<Trial> {
  // gso: the veth's tx checksum offload off, so the kernel cuts each super-frame in the send (as
  // for a NIC without UDP segmentation offload) and the receiver counts datagrams, not super-frames.
  const tx = (on: boolean) => void run(["ip", "netns", "exec", src, "ethtool", "-K", out, "tx", on ? "on" : "off"]);
  if (mode === "gso") tx(false);
  const before = udp();
  const json = run([
    "ip",
    "netns",
    "exec",
    src,
    "taskset",
    "-c",
    a.cpu!,
    floor,
    "send",
    mode,
    out,
    String(frames),
    String(payload),
    String(batch),
  ]);
  const r = JSON.parse(json) as {
    frames: number;
    wallNs: number;
    cpuNs: number;
    errors: number;
  };
  const delivered = udp() - before;
  if (mode === "gso") tx(true);
  return { mode, payload, receiver, ...r, delivered };
}

try {
  for (let round = 1; round <= rounds; round++) {
    for (const receiver of RECEIVERS) {
      // joined: a process holds the membership for the trials, as bench:fanout's receivers do.
      const joiner =
        receiver === "joined"
          ? start([
              "ip",
              "netns",
              "exec",
              dst,
              floor,
              "join",
              into,
              "239.1.1.1",
            ])
          : null;
      if (joiner) await Bun.sleep(300);
      for (const payload of sizes) {
        for (const mode of modes) {
          const t = await trial(mode, payload, receiver);
          trials.push(t);
          log(
            `round ${round} ${receiver} ${payload} B ${mode}: ${(t.wallNs / t.frames / 1e3).toFixed(3)} µs/frame, delivered ${t.delivered}/${t.frames}`,
          );
        }
      }
      if (joiner) await stop(joiner, "SIGKILL");
    }
  }
} finally {
  cleanupAll();
}

const rows: string[] = [];
for (const receiver of RECEIVERS) {
  for (const payload of sizes) {
    for (const mode of modes) {
      const ts = trials.filter(
        (t) =>
          t.mode === mode && t.payload === payload && t.receiver === receiver,
      );
      const wall = median(ts.map((t) => t.wallNs / t.frames)) / 1e3;
      const cpu = median(ts.map((t) => t.cpuNs / t.frames)) / 1e3;
      const delivered =
        receiver === "joined"
          ? `${((100 * ts.reduce((s, t) => s + t.delivered, 0)) / ts.reduce((s, t) => s + t.frames, 0)).toFixed(1)} %`
          : "—";
      rows.push(
        `| ${receiver} | ${payload} B | ${mode} | ${wall.toFixed(2)} | ${cpu.toFixed(2)} | ${Math.round(1e3 / wall)}k | ${delivered} | ${ts.reduce((s, t) => s + t.errors, 0)} |`,
      );
    }
  }
}
const when = new Date(t0).toISOString().slice(0, 16).replace("T", " ");
const stamp = new Date(t0).toISOString().replace(/[:.]/g, "-");
const raw = join(repo, "bench/results", `sendfloor-${stamp}.json`);
writeFileSync(
  raw,
  JSON.stringify(
    {
      started: new Date(t0).toISOString(),
      frames,
      rounds,
      batch,
      cpu: a.cpu,
      trials,
    },
    null,
    1,
  ),
);
const body = `\`bun run bench:sendfloor --rounds ${rounds} --frames ${frames}\` — ${when} UTC; ${Math.round((Date.now() - t0) / 60000)} min.

Method: a C loop (\`bench/sendfloor/floor.c\`), pinned to CPU ${a.cpu}, sends ${frames.toLocaleString("en")} ready-made frames to
239.1.1.1:5001 through a veth into a namespace, ${batch} a batch: **uring** as egress sends (io_uring \`sendmsg\` of a
gather [42-byte header, payload]), **sendmmsg** the same gathers in one \`sendmmsg(2)\`, **txring** through a
\`PACKET_TX_RING\` (header and payload copied into the ring, one \`send(2)\` a batch), **gso** as a \`gso: true\` output
sends (one \`sendmsg\` of [virtio_net_hdr, header, payloads] a UDP GSO super-frame of up to 64 datagrams and 64 KiB, the
veth's tx checksum offload off so that the kernel cuts it in the send, checksums computed). The receiving namespace has joined
the group on its veth (as bench:fanout's receivers: nothing bound, UDP counts each datagram) or has not (the frame
ends at its IP input). On a veth the receiver's input runs inside the send, so time per frame is what one core
can send there, with no relay, ring, wake-up or JavaScript around it. Medians of ${rounds} interleaved rounds.

| receiver | payload | mode | wall µs / frame | CPU µs / frame | frames/s on one core | delivered | errors |
|---|--:|---|--:|--:|--:|--:|--:|
${rows.join("\n")}

Raw data: \`bench/results/${raw.split("/").pop()}\`.`;
if (!a["no-doc"])
  writeSection(
    "sendfloor",
    "## The floor under a copy: one raw frame out of a veth, nothing around it",
    body,
  );
console.log(body);
