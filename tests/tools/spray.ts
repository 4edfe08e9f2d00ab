// Sends `--each` datagrams to each of `--groups` consecutive multicast groups from --base, port
// --port: traffic for many rules at once. Prints {"sent": n} when done.
import { parseArgs } from "node:util";
import { formatIpv4, parseIpv4 } from "../../rules/ipv4.ts";

const { values: v } = parseArgs({
  options: { base: { type: "string" }, groups: { type: "string" }, port: { type: "string" }, each: { type: "string", default: "1" },
    rate: { type: "string", default: "20000" }, size: { type: "string", default: "200" } },
});
const base = parseIpv4(v.base!)!;
const groups = Number(v.groups);
const port = Number(v.port);
const each = Number(v.each);
const gap = 1e9 / Number(v.rate);
const s = await Bun.udpSocket({});
const payload = new Uint8Array(Number(v.size));
let sent = 0;
const t0 = Bun.nanoseconds();
for (let k = 0; k < each; k++) {
  for (let g = 0; g < groups; g++) {
    while (Bun.nanoseconds() - t0 < sent * gap) await Bun.sleep(0);
    s.send(payload, port, formatIpv4((base + g) >>> 0));
    sent++;
  }
}
await Bun.sleep(100);
s.close();
console.log(JSON.stringify({ sent }));
