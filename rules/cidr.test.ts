import { expect, test } from "bun:test";
import { parseCidr } from "./cidr.ts";

test.each([
  ["10.0.0.0/8", { v6: false, bytes: [10, 0, 0, 0], bits: 8 }],
  ["10.1.2.3/16", { v6: false, bytes: [10, 1, 0, 0], bits: 16 }],
  ["192.168.1.7", { v6: false, bytes: [192, 168, 1, 7], bits: 32 }],
  ["2001:db8::/32", { v6: true, bytes: [0x20, 0x01, 0x0d, 0xb8, ...Array(12).fill(0)], bits: 32 }],
  ["::1", { v6: true, bytes: [...Array(15).fill(0), 1], bits: 128 }],
  ["::ffff:10.0.0.1/128", { v6: true, bytes: [...Array(10).fill(0), 0xff, 0xff, 10, 0, 0, 1], bits: 128 }],
  ["fe80::1:2/65", { v6: true, bytes: [0xfe, 0x80, ...Array(14).fill(0)], bits: 65 }],
])("%s", (s, want) => expect(parseCidr(s)).toEqual(want));

test.each(["10.0.0.0/33", "10.0.0/8", "::/129", "1.2.3.4/8/1", "host", "10.0.0.0/", "10.0.0.0/x"])("%s is not a prefix", (s) => expect(parseCidr(s)).toBeNull());
