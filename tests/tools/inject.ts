// Writes a corpus of hand-made frames onto a link with a raw socket: valid datagrams (lab
// payload format, so a sink can verify them) interleaved with malformed ones of every kind.
// Prints what it sent per kind as JSON.
import { parseArgs } from "node:util";
import { ifIndex } from "../../c/inet.ts";
import { rawOpen, rawSend } from "../../c/raw.ts";
import { writePayload } from "../../lab/payload.ts";
import { parseIpv4 } from "../../rules/ipv4.ts";

const { values: v } = parseArgs({
  options: {
    interface: { type: "string" }, src: { type: "string" }, group: { type: "string" }, port: { type: "string" },
    valid: { type: "string", default: "200" }, each: { type: "string", default: "5" }, size: { type: "string", default: "1000" },
    tos: { type: "string", default: "0" }, "size-step": { type: "string", default: "0" },
  },
});
const src = parseIpv4(v.src!)!;
const dst = parseIpv4(v.group!)!;
const port = Number(v.port);

function ipChecksum(b: Uint8Array, o: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[o + i] << 8) | b[o + i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Ethernet + IPv4 (+ UDP with `payload` bytes); every field can be bent afterwards. */
function datagram(payload: number, dport = port, fill?: (b: Uint8Array) => void): Uint8Array {
  const b = new Uint8Array(14 + 20 + 8 + payload);
  b.set([0x01, 0x00, 0x5e, (dst >>> 16) & 0x7f, (dst >>> 8) & 255, dst & 255, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]);
  const tot = 28 + payload;
  b.set([0x45, Number(v.tos), tot >> 8, tot & 255, 0, 0, 0x40, 0, 16, 17, 0, 0,
    src >>> 24, (src >>> 16) & 255, (src >>> 8) & 255, src & 255, dst >>> 24, (dst >>> 16) & 255, (dst >>> 8) & 255, dst & 255], 14);
  b.set([0x9c, 0x40, dport >> 8, dport & 255, (8 + payload) >> 8, (8 + payload) & 255, 0, 0], 34);
  fill?.(b.subarray(42));
  const c = ipChecksum(b, 14, 20);
  b[24] = c >> 8;
  b[25] = c & 255;
  return b;
}

const bad: Record<string, () => Uint8Array> = {
  ip_truncated: () => datagram(100).subarray(0, 14 + 12),
  bad_ihl: () => { const b = datagram(100); b[14] = 0x44; return b; },
  bad_total_length: () => { const b = datagram(100); b[16] = 0x05; b[17] = 0xdc; return b; },
  bad_udp_length: () => { const b = datagram(100); b[16] = 0; b[17] = 24; return b.subarray(0, 14 + 24); },
  fragment: () => { const b = datagram(100); b[20] = 0x20; return b; },
  not_udp: () => { const b = datagram(100); b[23] = 6; return b; },
  vlan: () => {
    const d = datagram(100);
    const b = new Uint8Array(d.length + 4);
    b.set(d.subarray(0, 12));
    b.set([0x81, 0x00, 0x00, 0x64], 12);
    b.set(d.subarray(12), 16);
    return b;
  },
  not_ipv4: () => { const b = datagram(100); b[12] = 0x88; b[13] = 0xb5; return b; },
  oversize: () => datagram(9000 - 28),
  no_rule: () => datagram(100, port + 1),
};

const fd = rawOpen(ifIndex(v.interface!));
const valid = Number(v.valid);
const each = Number(v.each);
const kinds = Object.keys(bad);
const sent: Record<string, number> = { valid: 0 };
for (let seq = 0; seq < valid; seq++) {
  // --size-step alternates the payload length (size, size + step, ...): for stages that look at it.
  rawSend(fd, datagram(Number(v.size) + (seq % 2) * Number(v["size-step"]), port, (p) => writePayload(p, 0, seq, 0)));
  sent.valid++;
  // Spread the bad frames between the valid ones.
  const k = kinds[seq % kinds.length];
  if (Math.floor(seq / kinds.length) < each) {
    rawSend(fd, bad[k]());
    sent[k] = (sent[k] ?? 0) + 1;
  }
  if (seq % 50 === 49) Bun.sleepSync(2);
}
console.log(JSON.stringify(sent));
