// A client of the supervisor's control socket: sends --count status requests at once, reads
// nothing for --pause-ms, then reads what comes for --wait-ms. Prints
// {"replies": n, "whole": n, "closed": bool}: how many frames came, how many were complete JSON
// replies to our requests, and whether the supervisor closed the connection.
import { parseArgs } from "node:util";
import { FrameReader, encodeFrame } from "../../services/protocol/frame.ts";

const { values: v } = parseArgs({
  options: { socket: { type: "string" }, count: { type: "string", default: "1" }, "pause-ms": { type: "string", default: "0" }, "wait-ms": { type: "string", default: "3000" } },
});
const reader = new FrameReader();
let replies = 0;
let whole = 0;
let closed = false;
let bad = "";
// A supervisor that refuses the peer closes at once: the connect itself may then fail with
// ECONNRESET, which is that refusal, not an error of this tool.
const sock = await Bun.connect({
  unix: v.socket!,
  socket: {
    data(_s, chunk) {
      try {
        for (const m of reader.push(chunk)) {
          replies++;
          const r = m as { id: number; ok: boolean; type?: string; status?: unknown };
          if (r.id > 0 && r.ok && r.type === "status" && r.status) whole++;
        }
      } catch (e) {
        bad = (e as Error).message;
      }
    },
    close() {
      closed = true;
    },
    error() {
      closed = true;
    },
  },
}).catch((e: NodeJS.ErrnoException) => {
  if (e.code !== "ECONNRESET" && e.code !== "EPIPE") throw e;
  console.log(JSON.stringify({ replies: 0, whole: 0, closed: true }));
  process.exit(0);
});
const n = Number(v.count);
sock.write(Buffer.concat(Array.from({ length: n }, (_, i) => encodeFrame({ id: i + 1, type: "status" }))));
sock.flush();
if (Number(v["pause-ms"]) > 0) {
  sock.pause();
  await Bun.sleep(Number(v["pause-ms"]));
  sock.resume();
}
const deadline = Date.now() + Number(v["wait-ms"]);
while (Date.now() < deadline && whole < n && !closed) await Bun.sleep(20);
console.log(JSON.stringify({ replies, whole, closed, ...(bad ? { bad } : {}) }));
process.exit(0);
