// The capture process: started by the supervisor as the relay user with capture sockets it opened
// as fds 3, 4, …; its one argument is a CaptureSpec (JSON). Writes a pcap of the frames the spec
// keeps into the FIFO the API streams from, until `count` frames or `seconds` have passed, or
// the reader goes away (EPIPE). Not the relay's hot path: a poll per batch, a write per frame.
import { closeSync, openSync, writeSync } from "node:fs";
import { captureRecv, M } from "../../c/capture.ts";
import { PollSet } from "../../c/sys.ts";
import type { CaptureSpec } from "../protocol/capture.ts";
import { keep } from "./filter.ts";
import { SNAPLEN, pcapHeader, pcapRecord } from "./pcap.ts";

const spec = JSON.parse(process.argv[2] ?? "") as CaptureSpec;
// Blocks until the API opens the FIFO for reading; the supervisor ends us if it never does.
const fifo = openSync(spec.fifo, "w");
const rec = new Uint8Array(16 + SNAPLEN);
const view = new DataView(rec.buffer);
const frame = rec.subarray(16);
const meta = new Int32Array(5);
// The FIFO too: when the client goes away its write end reports POLLERR at once, so a capture
// waiting for packets that may never come ends then, not at its seconds.
const poll = new PollSet([...spec.sources.map((s) => s.fd), fifo]);
const FIFO_AT = spec.sources.length;
const deadline = Date.now() + spec.seconds * 1000;
let written = 0;

function write(b: Uint8Array): boolean {
  try {
    for (let o = 0; o < b.length; ) o += writeSync(fifo, b, o, b.length - o);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EPIPE") return false; // the client left
    throw e;
  }
}

let open = write(pcapHeader());
while (open && written < spec.count && Date.now() < deadline) {
  if (poll.wait(Math.max(1, Math.min(200, deadline - Date.now()))) === 0) continue;
  if (poll.revents[FIFO_AT] !== 0) break; // POLLERR or POLLHUP: the reader is gone
  for (const s of spec.sources) {
    for (let n = captureRecv(s.fd, frame, meta); n >= 0 && open && written < spec.count; n = captureRecv(s.fd, frame, meta)) {
      if ((meta[M.outgoing] === 1) !== (s.direction === "sent")) continue;
      if (!keep(frame, n, s.matches)) continue;
      pcapRecord(view, 0, meta[M.sec], meta[M.nsec], n, meta[M.wireLen]);
      open = write(rec.subarray(0, 16 + n));
      written++;
    }
  }
}
closeSync(fifo);
process.exit(0);
