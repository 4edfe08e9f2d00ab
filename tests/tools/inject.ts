// Writes a corpus of hand-made frames onto a link with a raw socket: valid datagrams (lab
// payload format, so a sink can verify them) interleaved with malformed ones of every kind
// (--each of each; 0: valid ones only). --vlan N tags the valid ones with 802.1Q VLAN N;
// --protocol N makes them IP protocol N (not UDP), the lab payload right after the IPv4 header.
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
    tos: { type: "string", default: "0" }, "size-step": { type: "string", default: "0" }, vlan: { type: "string" }, protocol: { type: "string" },
  },
});
const src = parseIpv4(v.src!)!;
const dst = parseIpv4(v.group!)!;
const port = Number(v.port);

function sum16(b: Uint8Array, o: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[o + i] << 8) | (i + 1 < len ? b[o + i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Sets the IPv4 header checksum (after the header was bent: only the checksum test breaks it). */
function fixIp(b: Uint8Array): Uint8Array {
  b[24] = b[25] = 0;
  const c = ~sum16(b, 14, (b[14] & 15) * 4) & 0xffff;
  b[24] = c >> 8;
  b[25] = c & 255;
  return b;
}

/** Sets a correct UDP checksum (pseudo-header, header, payload). */
function fixUdp(b: Uint8Array): Uint8Array {
  b[40] = b[41] = 0;
  const ulen = (b[38] << 8) | b[39];
  const pseudo = new Uint8Array(12 + ulen);
  pseudo.set(b.subarray(26, 34));
  pseudo[9] = 17;
  pseudo[10] = ulen >> 8;
  pseudo[11] = ulen & 255;
  pseudo.set(b.subarray(34, 34 + ulen), 12);
  const c = ~sum16(pseudo, 0, pseudo.length) & 0xffff || 0xffff;
  b[40] = c >> 8;
  b[41] = c & 255;
  return b;
}

/** Ethernet + IPv4 (+ UDP with `payload` bytes) with correct checksums; every field can be bent afterwards. */
function datagram(payload: number, dport = port, fill?: (b: Uint8Array) => void): Uint8Array {
  const b = new Uint8Array(14 + 20 + 8 + payload);
  b.set([0x01, 0x00, 0x5e, (dst >>> 16) & 0x7f, (dst >>> 8) & 255, dst & 255, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]);
  const tot = 28 + payload;
  b.set([0x45, Number(v.tos), tot >> 8, tot & 255, 0, 0, 0x40, 0, 16, 17, 0, 0,
    src >>> 24, (src >>> 16) & 255, (src >>> 8) & 255, src & 255, dst >>> 24, (dst >>> 16) & 255, (dst >>> 8) & 255, dst & 255], 14);
  b.set([0x9c, 0x40, dport >> 8, dport & 255, (8 + payload) >> 8, (8 + payload) & 255, 0, 0], 34);
  fill?.(b.subarray(42));
  if (payload + 42 <= b.length && tot === b.length - 14) fixUdp(b);
  return fixIp(b);
}

/** Ethernet + IPv4 of protocol proto carrying `payload` bytes (what fill writes) after its header. */
function opaque(proto: number, payload: number, fill: (b: Uint8Array) => void): Uint8Array {
  const d = datagram(payload - 8, port);
  d[23] = proto;
  fill(d.subarray(34));
  return fixIp(d);
}

/** The frame with an 802.1Q tag of VLAN vid after its MAC addresses. */
function tag(d: Uint8Array, vid: number): Uint8Array {
  const b = new Uint8Array(d.length + 4);
  b.set(d.subarray(0, 12));
  b.set([0x81, 0x00, vid >> 8, vid & 255], 12);
  b.set(d.subarray(12), 16);
  return b;
}

const bad: Record<string, () => Uint8Array> = {
  ip_truncated: () => datagram(100).subarray(0, 14 + 12),
  bad_ihl: () => { const b = datagram(100); b[14] = 0x44; return b; },
  bad_total_length: () => { const b = datagram(100); b[16] = 0x05; b[17] = 0xdc; return fixIp(b); },
  bad_udp_length: () => { const b = datagram(100); b[16] = 0; b[17] = 24; return fixIp(b).subarray(0, 14 + 24); },
  fragment: () => { const b = datagram(100); b[20] = 0x20; return fixIp(b); },
  not_udp: () => { const b = datagram(100); b[23] = 6; return fixIp(b); },
  bad_ip_checksum: () => { const b = datagram(100); b[25] ^= 0x5a; return b; },
  ttl_zero: () => { const b = datagram(100); b[22] = 0; return fixIp(b); },
  martian_source: () => { const b = datagram(100); b.set([127, 0, 0, 1], 26); return fixIp(fixUdp(b)); },
  // A bit flipped on the way, UDP checksum left as sent: the relay must not re-send it under a fresh one.
  bad_udp_checksum: () => { const b = datagram(100, port, (p) => writePayload(p, 0, 0, 0)); b[60] ^= 1; return b; },
  // To another host's MAC: the interface only hands it up when promiscuous; the relay must not relay it.
  other_host: () => { const b = datagram(100); b.set([0x02, 0x99, 0x99, 0x99, 0x99, 0x99], 0); return b; },
  vlan: () => tag(datagram(100), 100),
  qinq: () => {
    const d = datagram(100);
    const b = new Uint8Array(d.length + 8);
    b.set(d.subarray(0, 12));
    b.set([0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x64], 12);
    b.set(d.subarray(12), 20);
    return b;
  },
  // UDP over IPv6 with checksum 0, which IPv4 allows and IPv6 does not.
  udp_zero_checksum: () => {
    const b = new Uint8Array(14 + 40 + 8 + 100);
    b.set([0x33, 0x33, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd]);
    b.set([0x60, 0, 0, 0, 0, 108, 17, 16, 0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 2, 0xff, 0x0e, ...Array(13).fill(0), 1], 14);
    b.set([0x9c, 0x40, port >> 8, port & 255, 0, 108, 0, 0], 54);
    return b;
  },
  not_ip: () => { const b = datagram(100); b[12] = 0x88; b[13] = 0xb5; return b; },
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
  const size = Number(v.size) + (seq % 2) * Number(v["size-step"]);
  const d = v.protocol ? opaque(Number(v.protocol), size, (p) => writePayload(p, 0, seq, 0)) : datagram(size, port, (p) => writePayload(p, 0, seq, 0));
  rawSend(fd, v.vlan ? tag(d, Number(v.vlan)) : d);
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
