import { describe, expect, test } from "bun:test";
import type { PARSE_DROPS } from "../../shm/layout.ts";
import { F, PARSED_FIELDS, PARSE_OK, code, fold, parseFrame, udpChecksumOk } from "./parse.ts";
import { MatchTable } from "./match.ts";

/** A valid Ethernet/IPv4/UDP frame to 239.1.1.1:5000 from 10.0.0.2:4000 with n payload bytes. */
function frame(n: number): Uint8Array {
  const b = new Uint8Array(14 + 20 + 8 + n);
  b.set([0x01, 0x00, 0x5e, 1, 1, 1, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  const ip = 14;
  b.set([0x45, 0xb8, (28 + n) >> 8, (28 + n) & 255, 0, 1, 0x40, 0, 8, 17, 0, 0, 10, 0, 0, 2, 239, 1, 1, 1], ip);
  b.set([4000 >> 8, 4000 & 255, 5000 >> 8, 5000 & 255, (8 + n) >> 8, (8 + n) & 255, 0, 0], ip + 20);
  for (let i = 0; i < n; i++) b[42 + i] = i & 255;
  return fix(b);
}

/** Recomputes the IPv4 header checksum after a test bent a field (a frame's checksum is right
 *  unless the test is about the checksum). */
function fix(b: Uint8Array, ip = 14): Uint8Array {
  b[ip + 10] = b[ip + 11] = 0;
  const ihl = (b[ip] & 15) * 4;
  let s = 0;
  for (let i = 0; i < ihl && ip + i + 1 < b.length; i += 2) s += (b[ip + i] << 8) | b[ip + i + 1];
  const c = ~fold(s) & 0xffff;
  b[ip + 10] = c >> 8;
  b[ip + 11] = c & 255;
  return b;
}

/** Sum of the payload as 16-bit big-endian words (what C's copy-and-sum returns, folded). */
function payloadSum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0);
  return fold(s);
}

/** Sets a correct UDP checksum on a frame made by frame(). */
function withUdpChecksum(b: Uint8Array): Uint8Array {
  b[40] = b[41] = 0;
  expect(parse(b)).toBe(PARSE_OK);
  const c = ~fold(out[F.pseudo] + payloadSum(b, out[F.payloadOff], out[F.payloadLen])) & 0xffff;
  b[40] = c >> 8;
  b[41] = c & 255;
  return b;
}

const out = new Uint32Array(PARSED_FIELDS);
const parse = (b: Uint8Array, len = b.length, vlan = false) => parseFrame(b, 0, len, vlan, out);

describe("parseFrame", () => {
  test("a valid datagram yields its addresses, ports and payload", () => {
    expect(parse(frame(100))).toBe(PARSE_OK);
    expect(out[F.src]).toBe(0x0a000002);
    expect(out[F.dst]).toBe(0xef010101);
    expect(out[F.sport]).toBe(4000);
    expect(out[F.dport]).toBe(5000);
    expect(out[F.payloadOff]).toBe(42);
    expect(out[F.payloadLen]).toBe(100);
    expect(out[F.tos]).toBe(0xb8);
  });

  test("Ethernet padding after the datagram is allowed", () => {
    const b = new Uint8Array(64);
    b.set(frame(0));
    expect(parse(b)).toBe(PARSE_OK);
    expect(out[F.payloadLen]).toBe(0);
  });

  test("IP options (IHL > 5) are skipped", () => {
    const f = frame(10);
    const b = new Uint8Array(f.length + 4);
    b.set(f.subarray(0, 34));
    b.set(f.subarray(34), 38);
    b[14] = 0x46;
    b[17] = 28 + 10 + 4;
    expect(parse(fix(b))).toBe(PARSE_OK);
    expect(out[F.payloadOff]).toBe(46);
  });

  const cases: [string, (typeof PARSE_DROPS)[number], () => [Uint8Array, number?, boolean?]][] = [
    ["truncated Ethernet", "short_frame", () => [frame(10), 13]],
    ["ARP", "not_ipv4", () => { const b = frame(10); b[12] = 0x08; b[13] = 0x06; return [b]; }],
    ["IPv6 ethertype", "not_ipv4", () => { const b = frame(10); b[12] = 0x86; b[13] = 0xdd; return [b]; }],
    ["IP version 6 in an IPv4 frame", "not_ipv4", () => { const b = frame(10); b[14] = 0x65; return [b]; }],
    ["802.1Q tag in the frame", "vlan", () => { const b = frame(10); b[12] = 0x81; b[13] = 0; return [b]; }],
    ["tag stripped by the kernel", "vlan", () => [frame(10), undefined, true]],
    ["truncated IP header", "ip_truncated", () => [frame(10), 14 + 19]],
    ["IHL < 5", "bad_ihl", () => { const b = frame(10); b[14] = 0x44; return [b]; }],
    ["a wrong IPv4 header checksum", "bad_ip_checksum", () => { const b = frame(10); b[25] ^= 1; return [b]; }],
    ["a bit flipped in the header after the checksum was made", "bad_ip_checksum", () => { const b = frame(10); b[29] ^= 4; return [b]; }],
    ["TTL 0", "ttl_zero", () => { const b = frame(10); b[22] = 0; return [fix(b)]; }],
    ["source 0.0.0.0", "martian_source", () => { const b = frame(10); b.set([0, 0, 0, 0], 26); return [fix(b)]; }],
    ["source 127.0.0.1", "martian_source", () => { const b = frame(10); b.set([127, 0, 0, 1], 26); return [fix(b)]; }],
    ["source 255.255.255.255", "martian_source", () => { const b = frame(10); b.set([255, 255, 255, 255], 26); return [fix(b)]; }],
    ["a multicast source", "martian_source", () => { const b = frame(10); b.set([239, 1, 1, 9], 26); return [fix(b)]; }],
    ["IHL beyond the frame", "bad_ihl", () => { const b = frame(0); b[14] = 0x4f; return [b]; }],
    ["total length beyond the frame", "bad_total_length", () => { const b = frame(10); b[17] += 1; return [b]; }],
    ["total length below the header", "bad_total_length", () => { const b = frame(10); b[16] = 0; b[17] = 10; return [b]; }],
    ["more-fragments flag", "fragment", () => { const b = frame(10); b[20] = 0x20; return [fix(b)]; }],
    ["non-zero fragment offset", "fragment", () => { const b = frame(10); b[20] = 0; b[21] = 5; return [fix(b)]; }],
    ["TCP", "not_udp", () => { const b = frame(10); b[23] = 6; return [fix(b)]; }],
    ["truncated UDP header", "bad_udp_length", () => { const b = frame(0); b[16] = 0; b[17] = 24; return [fix(b), 38]; }],
    ["UDP length disagrees with IP", "bad_udp_length", () => { const b = frame(10); b[39] += 1; return [b]; }],
  ];
  for (const [what, reason, make] of cases) {
    test(`${what} -> ${reason}`, () => {
      const [b, len, vlan] = make();
      expect(parse(b, len ?? b.length, vlan ?? false)).toBe(code(reason));
    });
  }
});

describe("UDP checksum", () => {
  for (const n of [0, 1, 10, 11, 1472]) {
    test(`a correct checksum passes, any flipped payload bit fails (${n} bytes)`, () => {
      const b = withUdpChecksum(frame(n));
      expect(parse(b)).toBe(PARSE_OK);
      expect(out[F.udpSum]).not.toBe(0);
      expect(udpChecksumOk(out, payloadSum(b, out[F.payloadOff], out[F.payloadLen]))).toBe(true);
      if (n === 0) return;
      b[42 + (n >> 1)] ^= 0x10;
      expect(parse(b)).toBe(PARSE_OK); // the header is still fine: the payload is what changed
      expect(udpChecksumOk(out, payloadSum(b, out[F.payloadOff], out[F.payloadLen]))).toBe(false);
    });
  }
});

describe("MatchTable", () => {
  const t = new MatchTable([
    { no: 1, input: 0, group: 0xef010101, port: 5000, source: 0 },
    { no: 2, input: 0, group: 0xef010101, port: 5000, source: 0x0a000002 },
    { no: 3, input: 1, group: 0xef010101, port: 5000, source: 0 },
    { no: 4, input: 0, group: 0xef010102, port: 5000, source: 0x0a000009 },
  ]);
  test("source-specific beats any-source; inputs are separate", () => {
    expect(t.lookup(0, 0xef010101, 5000, 0x0a000002)).toBe(2);
    expect(t.lookup(0, 0xef010101, 5000, 0x0a000003)).toBe(1);
    expect(t.lookup(1, 0xef010101, 5000, 0x0a000002)).toBe(3);
  });
  test("no match: other port, other group, other source of an SSM-only group, unknown input", () => {
    expect(t.lookup(0, 0xef010101, 5001, 1)).toBe(-1);
    expect(t.lookup(0, 0xef010103, 5000, 1)).toBe(-1);
    expect(t.lookup(0, 0xef010102, 5000, 0x0a000002)).toBe(-1);
    expect(t.lookup(7, 0xef010101, 5000, 1)).toBe(-1);
  });
});
