// Run inside a test's network namespace: a link end's V2 ring on lo (2 KiB frames, a vnet
// header, a copy threshold) gets three 4,000-byte frames; each is cut in the ring and queued
// whole on the socket. Takes their copies as ingress does, and out of order as a resumed ingress
// would meet them. Prints what each take returned, as JSON.
import { ptr } from "bun:ffi";
import { E } from "../../c/lib.ts";
import { ifIndex } from "../../c/inet.ts";
import { K } from "../../c/kernel.ts";
import { packetOpen, packetTakeCopy, type RingGeometry, VNET_HDR_BYTES } from "../../c/packet.ts";
import { rawOpen, rawSend } from "../../c/raw.ts";
import { openRing } from "../../services/ingress/rx-ring.ts";
import type { IngressInput } from "../../services/protocol/worker.ts";
import { PROGRESS_WORDS } from "../../shm/layout.ts";

const SIZE = 4000;
const lo = ifIndex("lo");
const geometry: RingGeometry = { version: 2, blockSize: 8192, blockCount: 4, frameSize: 2048, retireMs: 1 };
const fd = packetOpen(lo, geometry, -1, { vnetHdr: true });
const ring = openRing({ ifname: "lo", ifindex: lo, slot: 0, geometry } as IngressInput, fd, new Float64Array(PROGRESS_WORDS));
ring.start();

/** Frame k: to lo's all-zero address, a local experimental ethertype, bytes that differ by k from byte 14 on. */
const frame = (k: number) => {
  const f = new Uint8Array(SIZE);
  f[12] = 0x88;
  f[13] = 0xb5;
  for (let i = 14; i < SIZE; i++) f[i] = (i * 7 + k * 31) & 255;
  return f;
};
const tx = rawOpen(lo);
for (const k of [1, 2, 3]) rawSend(tx, frame(k));
await Bun.sleep(100);

const n = ring.begin();
const heads: { addr: number; snap: number; wireLen: number; copy: boolean }[] = [];
for (let i = 0; i < n; i++) {
  const f = ring.next();
  heads.push({ addr: ring.map.addr + ring.mac(f), snap: ring.snap(f), wireLen: ring.wireLen(f), copy: (ring.status(f) & K.TP_STATUS_COPY) !== 0 });
}
const buf = new Uint8Array(VNET_HDR_BYTES + SIZE + 64);
const take = (k: number, cap = buf.length) => {
  buf.fill(0);
  const got = packetTakeCopy(fd, ptr(buf) as unknown as number, cap, heads[k - 1]!.addr, heads[k - 1]!.snap);
  const name = got === -E.ESTALE ? "ESTALE" : got === -E.EAGAIN ? "EAGAIN" : got < 0 ? `errno ${-got}` : got;
  return { got: name, whole: got === VNET_HDR_BYTES + SIZE && buf.subarray(VNET_HDR_BYTES, VNET_HDR_BYTES + SIZE).every((b, i) => b === frame(k)[i]) };
};
const takes = [
  take(1), // in order: frame 1's copy
  take(3), // frame 2's copy is next: not frame 3's, left queued
  take(2, 0), // thrown away
  take(3),
  take(3), // nothing left
];
console.log(JSON.stringify({ frames: heads.map(({ snap, wireLen, copy }) => ({ snap, wireLen, copy })), takes }));
