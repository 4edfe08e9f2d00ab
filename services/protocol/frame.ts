// Framing of the control socket (a Unix stream): each message is a 4-byte big-endian length and
// that many bytes of UTF-8 JSON. The reader reassembles frames from chunks of any size; the
// writer queues what the socket did not take and writes it on `drain`, so a reply is never cut
// and never lost, however large and however slow the reader.

/** The largest frame either side accepts (the whole desired state of 16,384 rules is ~4 MiB). */
export const MAX_FRAME_BYTES = 64 << 20;

export class FrameError extends Error {}

/** Reassembles frames from a stream of chunks. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Adds a chunk; returns every message completed by it, in order. Throws FrameError on a frame
   *  larger than MAX_FRAME_BYTES or one that is not JSON (the connection is then unusable). */
  push(chunk: Uint8Array): unknown[] {
    // A copy: the socket may reuse the memory of a chunk once its handler returns.
    this.chunks.push(Buffer.from(chunk));
    this.buffered += chunk.byteLength;
    const out: unknown[] = [];
    for (;;) {
      if (this.buffered < 4) return out;
      if (this.chunks[0].length < 4) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
      const len = this.chunks[0].readUInt32BE(0);
      if (len > MAX_FRAME_BYTES) throw new FrameError(`frame of ${len} bytes is larger than ${MAX_FRAME_BYTES}`);
      if (this.buffered < 4 + len) return out; // a large frame: wait for all of it before joining chunks
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
      const rest = all.subarray(4 + len);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
      try {
        out.push(JSON.parse(all.toString("utf8", 4, 4 + len)));
      } catch (e) {
        throw new FrameError(`frame is not JSON: ${(e as Error).message}`);
      }
    }
  }
}

/** One message as a frame. */
export function encodeFrame(msg: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(msg), "utf8");
  if (body.length > MAX_FRAME_BYTES) throw new FrameError(`message of ${body.length} bytes is larger than ${MAX_FRAME_BYTES}`);
  const f = Buffer.allocUnsafe(4 + body.length);
  f.writeUInt32BE(body.length, 0);
  body.copy(f, 4);
  return f;
}

/** What FrameWriter needs of a socket: Bun's `write` returns how many bytes it took. */
export interface Writable {
  write(data: Uint8Array): number;
}

/**
 * Writes frames in order. What the socket does not take now waits here and goes out on drain()
 * (call it from the socket's `drain` handler); `pending` says how much waits, so a caller can
 * stop reading requests from a peer that does not read its replies.
 */
export class FrameWriter {
  private queue: Buffer[] = [];
  pending = 0;

  constructor(private readonly sock: Writable) {}

  send(msg: unknown): void {
    const f = encodeFrame(msg);
    if (this.queue.length === 0) {
      const n = this.sock.write(f);
      if (n === f.length) return;
      this.queue.push(f.subarray(Math.max(0, n)));
    } else this.queue.push(f);
    this.pending += this.queue[this.queue.length - 1].length;
  }

  /** Writes what waits, as far as the socket takes it. True when nothing is left. */
  drain(): boolean {
    while (this.queue.length) {
      const b = this.queue[0];
      const n = Math.max(0, this.sock.write(b));
      this.pending -= n;
      if (n < b.length) {
        this.queue[0] = b.subarray(n);
        return false;
      }
      this.queue.shift();
    }
    return true;
  }
}
