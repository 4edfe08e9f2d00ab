// bench:ring — descriptors per second between two processes through the shm SPSC ring.
// The producer pushes batches of u32 and publishes once per batch; the consumer takes what is
// available (up to a batch) and releases once. Each batch size runs in its own segment.
// Usage: bun bench/ring.ts [--seconds S] [--batches 1,8,32,256] [--json FILE]
import { parseArgs } from "node:util";
import { spawn } from "bun";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { shmCreate, shmMap, shmOpen, shmUnlink } from "../c/sys.ts";
import { RING_HEADER_BYTES } from "../shm/layout.ts";
import { RingConsumer, RingProducer } from "../shm/ring.ts";
import { writeSection } from "./doc.ts";

const CAPACITY = 4096;
const BYTES = 4096 + RING_HEADER_BYTES + 4 * CAPACITY;
// After the ring: [0] go flag, [1] consumer done flag; then the consumer's count and checksum.
const CTL = RING_HEADER_BYTES + 4 * CAPACITY;

function consumer(name: string, batch: number): void {
  const m = shmMap(shmOpen(name, true), BYTES, true);
  const c = new RingConsumer(m.buf, 0, CAPACITY);
  const flags = new Int32Array(m.buf, CTL, 4);
  const result = new Float64Array(m.buf, CTL + 16, 2);
  let count = 0;
  let expect = 0;
  let bad = 0;
  while (Atomics.load(flags, 0) === 0) {}
  for (;;) {
    const n = Math.min(c.available(), batch);
    if (n === 0) {
      if (Atomics.load(flags, 0) === 2 && c.available() === 0) break;
      continue;
    }
    for (let i = 0; i < n; i++) if (c.take() !== (expect++ >>> 0)) bad++;
    c.release();
    count += n;
  }
  result[0] = count;
  result[1] = bad;
  Atomics.store(flags, 1, 1);
}

async function producer(batch: number, seconds: number): Promise<{ batch: number; perSecond: number; count: number; errors: number }> {
  const name = `mcrelay-bench-ring-${process.pid}-${batch}`;
  const fd = shmCreate(name, BYTES);
  try {
    const m = shmMap(fd, BYTES, true);
    const p = new RingProducer(m.buf, 0, CAPACITY);
    const flags = new Int32Array(m.buf, CTL, 4);
    const result = new Float64Array(m.buf, CTL + 16, 2);
    const child = spawn([process.execPath, import.meta.path, "--consumer", name, "--batch", String(batch)], { stdio: ["ignore", "inherit", "inherit"] });
    await Bun.sleep(300); // let the consumer map and spin
    Atomics.store(flags, 0, 1);
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    let v = 0;
    let sent = 0;
    while (performance.now() < end) {
      for (let k = 0; k < 64; k++) {
        const n = Math.min(p.space(), batch);
        for (let i = 0; i < n; i++) p.push(v++ >>> 0);
        p.publish();
        sent += n;
      }
    }
    Atomics.store(flags, 0, 2);
    await child.exited;
    const dt = (performance.now() - t0) / 1000;
    if (result[0] !== sent) throw new Error(`consumer took ${result[0]} of ${sent}`);
    return { batch, perSecond: sent / dt, count: sent, errors: result[1] };
  } finally {
    shmUnlink(name);
  }
}

const { values: v } = parseArgs({
  options: {
    consumer: { type: "string" }, batch: { type: "string" }, seconds: { type: "string", default: "3" },
    batches: { type: "string", default: "1,8,32,256" }, json: { type: "string" }, "no-doc": { type: "boolean" },
  },
});
if (v.consumer) {
  consumer(v.consumer, Number(v.batch));
  process.exit(0);
}
const rows = [];
for (const b of v.batches!.split(",").map(Number)) {
  const r = await producer(b, Number(v.seconds));
  rows.push(r);
  console.log(`batch ${String(b).padStart(4)}: ${(r.perSecond / 1e6).toFixed(1).padStart(7)} M descriptors/s  (${r.count} moved, ${r.errors} out of order)`);
}
const out = v.json ?? join(import.meta.dir, "results", `ring-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), capacity: CAPACITY, seconds: Number(v.seconds), rows }, null, 2) + "\n");
console.log(`results: ${out}`);
if (!v["no-doc"]) {
  const root = join(import.meta.dir, "..");
  writeSection("ring", "## Shared-memory ring between two processes", [
    `\`bun run bench:ring\` — ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; capacity ${CAPACITY}, ${v.seconds} s per batch size.`,
    "Producer and consumer are two Bun processes on the two cores; the producer publishes once per batch, the",
    "consumer takes up to a batch and releases once, and checks that every value arrives in order (out-of-order: 0).",
    "",
    "| batch | descriptors/s |",
    "|--:|--:|",
    ...rows.map((r) => `| ${r.batch} | ${(r.perSecond / 1e6).toFixed(1)} M |`),
    "",
    `Goal: ≥ 100 M/s batched. Raw data: \`${out.slice(root.length + 1)}\`.`,
  ].join("\n"));
}
