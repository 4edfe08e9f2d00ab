import { describe, expect, test } from "bun:test";
import type { PARSE_DROPS } from "../../shm/layout.ts";
import { F, PARSED_FIELDS, PARSE_OK, code, fold, parseFrame, udpChecksumOk } from "./parse.ts";
import { MatchTable, NO_RULE, NO_VLAN, ipv6Key } from "./match.ts";
import { parseIpv6 } from "../../rules/ip.ts";

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

/** The frame with an 802.1Q (or tpid) tag of VLAN id vid inserted after the MAC addresses. */
function tagged(f: Uint8Array, vid: number, tpid = 0x8100): Uint8Array {
  const b = new Uint8Array(f.length + 4);
  b.set(f.subarray(0, 12));
  b.set([tpid >> 8, tpid & 255, (vid >> 8) & 0x0f, vid & 255], 12);
  b.set(f.subarray(12), 16);
  return b;
}

const V6_SRC = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const V6_GROUP = [0xff, 0x0e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1];

/** Ethernet/IPv6/UDP to [ff0e::1:1]:5000 from [2001:db8::2]:4000 with n payload bytes, after the
 *  extension headers `ext` (each [next header it carries is set here, its bytes]), with a right
 *  UDP checksum. */
function frame6(n: number, ext: [number, number[]][] = [], hops = 8): Uint8Array {
  const extLen = ext.reduce((a, [, x]) => a + x.length, 0);
  const b = new Uint8Array(14 + 40 + extLen + 8 + n);
  b.set([0x33, 0x33, 0, 1, 0, 1, 2, 0, 0, 0, 0, 1, 0x86, 0xdd]);
  const plen = extLen + 8 + n;
  b.set([0x6b, 0x80, 0, 0, plen >> 8, plen & 255, ext.length ? ext[0]![0] : 17, hops, ...V6_SRC, ...V6_GROUP], 14);
  let at = 54;
  ext.forEach(([, x], i) => {
    b.set(x, at);
    b[at] = i + 1 < ext.length ? ext[i + 1]![0] : 17;
    at += x.length;
  });
  b.set([4000 >> 8, 4000 & 255, 5000 >> 8, 5000 & 255, (8 + n) >> 8, (8 + n) & 255, 0, 0], at);
  for (let i = 0; i < n; i++) b[at + 8 + i] = i & 255;
  // The pseudo-header (addresses, UDP length, next header 17) and the datagram.
  let sum = 17 + 8 + n + payloadSum(b, 22, 32) + payloadSum(b, at, 8 + n);
  const c = ~fold(sum) & 0xffff || 0xffff;
  b[at + 6] = c >> 8;
  b[at + 7] = c & 255;
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
const parse = (b: Uint8Array, len = b.length, tag = -1) => parseFrame(b, 0, len, tag, out);

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

  const cases: [string, (typeof PARSE_DROPS)[number], () => [Uint8Array, number?, number?]][] = [
    ["truncated Ethernet", "short_frame", () => [frame(10), 13]],
    ["ARP", "not_ip", () => { const b = frame(10); b[12] = 0x08; b[13] = 0x06; return [b]; }],
    ["IPv6 ethertype over an IPv4 header", "not_ip", () => { const b = frame(30); b[12] = 0x86; b[13] = 0xdd; return [b]; }],
    ["IP version 6 in an IPv4 frame", "not_ip", () => { const b = frame(10); b[14] = 0x65; return [b]; }],
    ["two tags in the frame (QinQ)", "qinq", () => [tagged(tagged(frame(10), 100, 0x8100), 7, 0x88a8)]],
    ["a tag in the frame under one the kernel took off", "qinq", () => [tagged(frame(10), 100), undefined, 7]],
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
      const [b, len, tag] = make();
      expect(parse(b, len ?? b.length, tag ?? -1)).toBe(code(reason));
    });
  }
});

describe("parseFrame: VLANs", () => {
  test("a tag in the frame, or one the kernel took off, gives its VLAN id; a priority tag (id 0) is untagged", () => {
    expect(parse(tagged(frame(10), 100))).toBe(PARSE_OK);
    expect([out[F.vlan], out[F.payloadLen], out[F.dst]]).toEqual([100, 10, 0xef010101]);
    expect(parse(frame(10), undefined, (5 << 13) | 200)).toBe(PARSE_OK); // PCP 5, VLAN 200
    expect(out[F.vlan]).toBe(200);
    expect(parse(tagged(frame(10), 0))).toBe(PARSE_OK);
    expect(out[F.vlan]).toBe(0);
    expect(parse(frame(10))).toBe(PARSE_OK);
    expect(out[F.vlan]).toBe(0);
    expect(parse(tagged(frame6(10), 300))).toBe(PARSE_OK);
    expect([out[F.family], out[F.vlan]]).toEqual([6, 300]);
  });
});

describe("parseFrame: IPv6", () => {
  const opts = (len: number) => [0, (len >> 3) - 1, ...Array(len - 2).fill(0)]; // a PadN-only options header
  test("a valid datagram yields its keys, the place of its addresses, ports, payload and traffic class", () => {
    const b = frame6(100);
    expect(parse(b)).toBe(PARSE_OK);
    expect(out[F.family]).toBe(6);
    expect(out[F.src]).toBe(ipv6Key(V6_SRC, 0));
    expect(out[F.dst]).toBe(ipv6Key(V6_GROUP, 0));
    expect([...b.subarray(out[F.addrOff], out[F.addrOff] + 32)]).toEqual([...V6_SRC, ...V6_GROUP]);
    expect([out[F.sport], out[F.dport], out[F.payloadOff], out[F.payloadLen], out[F.tos]]).toEqual([4000, 5000, 62, 100, 0xb8]);
    expect(udpChecksumOk(out, payloadSum(b, 62, 100))).toBe(true);
    b[70] ^= 1;
    expect(udpChecksumOk(out, payloadSum(b, 62, 100))).toBe(false);
  });

  test("hop-by-hop, routing, destination options and an atomic fragment header are walked over", () => {
    const routing = [0, 0, 0, 0, 0, 0, 0, 0]; // type 0, segments left 0
    const atomic = [0, 0, 0, 0, 0, 0, 0, 9]; // offset 0, M 0
    const b = frame6(20, [[0, opts(8)], [43, routing], [44, atomic], [60, opts(16)]]);
    expect(parse(b)).toBe(PARSE_OK);
    expect([out[F.payloadOff], out[F.payloadLen], out[F.dport]]).toEqual([54 + 40 + 8, 20, 5000]);
    expect(udpChecksumOk(out, payloadSum(b, out[F.payloadOff], 20))).toBe(true);
  });

  test("Ethernet padding after the packet is allowed", () => {
    const f = frame6(0);
    const b = new Uint8Array(f.length + 10);
    b.set(f);
    expect(parse(b)).toBe(PARSE_OK);
  });

  const cases: [string, (typeof PARSE_DROPS)[number], () => [Uint8Array, number?]][] = [
    ["truncated header", "ip_truncated", () => [frame6(10), 14 + 39]],
    ["version 4 in an IPv6 frame", "not_ip", () => { const b = frame6(10); b[14] = 0x45; return [b]; }],
    ["payload length beyond the frame", "bad_total_length", () => { const b = frame6(10); b[19] += 1; return [b]; }],
    ["hop limit 0", "ttl_zero", () => [frame6(10, [], 0)]],
    ["source ::", "martian_source", () => { const b = frame6(10); b.fill(0, 22, 38); return [b]; }],
    ["source ::1", "martian_source", () => { const b = frame6(10); b.fill(0, 22, 38); b[37] = 1; return [b]; }],
    ["a multicast source", "martian_source", () => { const b = frame6(10); b[22] = 0xff; return [b]; }],
    ["a first fragment", "fragment", () => [frame6(10, [[44, [0, 0, 0, 1, 0, 0, 0, 1]]])]],
    ["a later fragment", "fragment", () => [frame6(10, [[44, [0, 0, 0, 8, 0, 0, 0, 1]]])]],
    ["an extension header beyond the packet", "ip_truncated", () => { const b = frame6(0, [[60, opts(8)]]); b[55] = 9; return [b]; }],
    ["TCP", "not_udp", () => { const b = frame6(10); b[20] = 6; return [b]; }],
    ["ESP after a hop-by-hop header", "not_udp", () => { const b = frame6(10, [[0, opts(8)]]); b[54] = 50; return [b]; }],
    ["UDP length disagrees with IPv6", "bad_udp_length", () => { const b = frame6(10); b[59] += 1; return [b]; }],
    ["UDP without a checksum", "udp_zero_checksum", () => { const b = frame6(10); b[60] = b[61] = 0; return [b]; }],
  ];
  for (const [what, reason, make] of cases) {
    test(`${what} -> ${reason}`, () => {
      const [b, len] = make();
      expect(parse(b, len ?? b.length)).toBe(code(reason));
    });
  }

  test("a protocol other than UDP still has its payload and protocol in out", () => {
    const b = frame6(10, [[0, opts(8)]]);
    b[54] = 50;
    expect(parse(b)).toBe(code("not_udp"));
    expect([out[F.proto], out[F.payloadOff], out[F.payloadLen]]).toEqual([50, 62, 18]);
  });
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
    { no: 1, input: 0, vlan: 0, group: "239.1.1.1", port: 5000 },
    { no: 2, input: 0, vlan: 0, group: "239.1.1.1", port: 5000, source: "10.0.0.2" },
    { no: 3, input: 1, vlan: 0, group: "239.1.1.1", port: 5000 },
    { no: 4, input: 0, vlan: 0, group: "239.1.1.2", port: 5000, source: "10.0.0.9" },
    { no: 5, input: 0, vlan: 100, group: "239.1.1.1", port: 5000 },
    { no: 6, input: 0, vlan: 200, group: "239.1.1.1", port: 5000 },
    { no: 7, input: 0, vlan: 0, group: "ff0e::1:1", port: 5000 },
    { no: 8, input: 0, vlan: 0, group: "ff0e::1:1", port: 5000, source: "2001:db8::2" },
    { no: 9, input: 0, vlan: 100, group: "ff3e::8000:1", port: 5000, source: "2001:db8::2" },
  ]);
  test("source-specific beats any-source; inputs are separate", () => {
    expect(t.lookup(0, 0, 0xef010101, 5000, 0x0a000002)).toBe(2);
    expect(t.lookup(0, 0, 0xef010101, 5000, 0x0a000003)).toBe(1);
    expect(t.lookup(1, 0, 0xef010101, 5000, 0x0a000002)).toBe(3);
  });
  test("no match: other port, other group, other source of an SSM-only group, unknown input", () => {
    expect(t.lookup(0, 0, 0xef010101, 5001, 1)).toBe(NO_RULE);
    expect(t.lookup(0, 0, 0xef010103, 5000, 1)).toBe(NO_RULE);
    expect(t.lookup(0, 0, 0xef010102, 5000, 0x0a000002)).toBe(NO_RULE);
    expect(t.lookup(7, 0, 0xef010101, 5000, 1)).toBe(NO_RULE);
  });
  test("a tagged frame matches the rules of its VLAN only; a VLAN no rule takes is told apart", () => {
    expect(t.lookup(0, 100, 0xef010101, 5000, 1)).toBe(5);
    expect(t.lookup(0, 200, 0xef010101, 5000, 1)).toBe(6);
    expect(t.lookup(0, 300, 0xef010101, 5000, 1)).toBe(NO_VLAN);
    expect(t.lookup(1, 100, 0xef010101, 5000, 1)).toBe(NO_VLAN);
  });
  test("IPv6: by the addresses' bytes, source-specific first, per VLAN", () => {
    const b = new Uint8Array(32);
    const at = (src: string, dst: string) => {
      b.set(parseIpv6(src)!, 0);
      b.set(parseIpv6(dst)!, 16);
      return [ipv6Key(b, 16), 5000, ipv6Key(b, 0), b, 0] as const;
    };
    expect(t.lookup6(0, 0, ...at("2001:db8::2", "ff0e::1:1"))).toBe(8);
    expect(t.lookup6(0, 0, ...at("2001:db8::3", "ff0e::1:1"))).toBe(7);
    expect(t.lookup6(0, 0, ...at("2001:db8::2", "ff0e::1:2"))).toBe(NO_RULE);
    expect(t.lookup6(0, 100, ...at("2001:db8::2", "ff3e::8000:1"))).toBe(9);
    expect(t.lookup6(0, 100, ...at("2001:db8::3", "ff3e::8000:1"))).toBe(NO_RULE);
    expect(t.lookup6(0, 300, ...at("2001:db8::2", "ff3e::8000:1"))).toBe(NO_VLAN);
  });
  test("IPv6 groups (and sources) whose keys collide are told apart by their bytes", () => {
    const groups = ["ff0e::1", "ff0e::2", "ff05::1"];
    const c = new MatchTable([
      ...groups.map((group, i) => ({ no: i + 1, input: 0, vlan: 0, group, port: 9 })),
      { no: 4, input: 0, vlan: 0, group: "ff0e::2", port: 9, source: "2001:db8::7" },
      { no: 5, input: 0, vlan: 0, group: "ff0e::2", port: 9, source: "2001:db8::8" },
    ], () => 7); // every address has key 7
    const b = new Uint8Array(32);
    const find = (src: string, dst: string) => {
      b.set(parseIpv6(src)!, 0);
      b.set(parseIpv6(dst)!, 16);
      return c.lookup6(0, 0, 7, 9, 7, b, 0);
    };
    expect(groups.map((g) => find("2001:db8::1", g))).toEqual([1, 2, 3]);
    expect([find("2001:db8::7", "ff0e::2"), find("2001:db8::8", "ff0e::2"), find("2001:db8::9", "ff0e::2")]).toEqual([4, 5, 2]);
    expect(find("2001:db8::1", "ff0e::3")).toBe(NO_RULE);
  });
});
