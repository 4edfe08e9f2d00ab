// Run inside a test's namespace: for --ms, every frame an interface receives (or, --outgoing,
// sends) that carries an 802.1Q tag — in the frame, or taken into metadata by the kernel and put
// back by c/capture.c — as its VLAN id and the SHA-256 of its bytes on the wire. Prints JSON.
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { M, captureOpen, captureRecv } from "../../c/capture.ts";
import { ifIndex } from "../../c/inet.ts";

const { values: v } = parseArgs({ options: { interface: { type: "string" }, ms: { type: "string", default: "3000" }, outgoing: { type: "boolean", default: false } } });
const fd = captureOpen(ifIndex(v.interface!));
const buf = new Uint8Array(65536 + 4);
const meta = new Int32Array(5);
const frames: { vlan: number; sha256: string }[] = [];
console.error("ready");
const end = Date.now() + Number(v.ms);
while (Date.now() < end) {
  const n = captureRecv(fd, buf, meta);
  if (n < 0) {
    Bun.sleepSync(1);
    continue;
  }
  if ((meta[M.outgoing] === 1) !== v.outgoing || n < 18 || buf[12] !== 0x81 || buf[13] !== 0x00) continue;
  frames.push({ vlan: ((buf[14] << 8) | buf[15]) & 0xfff, sha256: createHash("sha256").update(buf.subarray(0, n)).digest("hex") });
}
console.log(JSON.stringify(frames));
