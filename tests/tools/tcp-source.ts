// Sends --bytes of seeded pseudo-random data over one TCP connection, then prints
// {"bytes":N,"sha256":"…","seconds":S} (what a sink must have received, byte for byte).
import { createHash } from "node:crypto";
import { connect } from "node:net";
import { parseArgs } from "node:util";

const { values: v } = parseArgs({ options: { to: { type: "string" }, port: { type: "string" }, bytes: { type: "string" }, seed: { type: "string", default: "1" },
  "connect-timeout": { type: "string", default: "30000" } } });
const total = Number(v.bytes);
const chunk = new Uint8Array(1 << 16);
let x = Number(v.seed) >>> 0 || 1;
const hash = createHash("sha256");
const t0 = performance.now();
const sock = connect({ host: v.to!, port: Number(v.port) });
let sent = 0;
function fill(): Uint8Array {
  const n = Math.min(chunk.length, total - sent);
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; // xorshift32
    chunk[i] = x & 0xff;
  }
  sent += n;
  const part = chunk.slice(0, n);
  hash.update(part);
  return part;
}
function pump(): void {
  while (sent < total) if (!sock.write(fill())) return void sock.once("drain", pump);
  sock.end(() => {
    console.log(JSON.stringify({ bytes: sent, sha256: hash.digest("hex"), seconds: (performance.now() - t0) / 1000 }));
  });
}
// Not connected in time: exit 3 (a link that drops SYNs is tested this way).
const timer = setTimeout(() => {
  console.error("tcp-source: not connected in time");
  process.exit(3);
}, Number(v["connect-timeout"]));
sock.on("connect", () => {
  clearTimeout(timer);
  pump();
});
sock.on("error", (e) => {
  console.error(`tcp-source: ${e.message}`);
  process.exit(1);
});
