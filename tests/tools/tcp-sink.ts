// Accepts one TCP connection on --port, reads it to the end, prints {"bytes":N,"sha256":"…"}.
import { createHash } from "node:crypto";
import { createServer } from "node:net";
import { parseArgs } from "node:util";

const { values: v } = parseArgs({ options: { port: { type: "string" } } });
const server = createServer((sock) => {
  const hash = createHash("sha256");
  let bytes = 0;
  sock.on("data", (d) => {
    bytes += d.length;
    hash.update(d);
  });
  sock.on("end", () => {
    console.log(JSON.stringify({ bytes, sha256: hash.digest("hex") }));
    server.close();
  });
});
server.listen(Number(v.port), () => console.error("ready"));
