import { describe, expect, test } from "bun:test";
import { parseEndpointArg } from "./rules.ts";

describe("rules add --in/--out", () => {
  test("IF:GROUP:PORT[@SOURCE], IPv6 groups in brackets, an IPv6 source with or without", () => {
    expect(parseEndpointArg("--in", "eth0:239.1.1.1:5000@10.0.0.2", true)).toEqual({ interface: "eth0", group: "239.1.1.1", port: 5000, source: "10.0.0.2" });
    expect(parseEndpointArg("--in", "eth0:[ff3e::8000:1]:5000@2001:db8::2", true)).toEqual({ interface: "eth0", group: "ff3e::8000:1", port: 5000, source: "2001:db8::2" });
    expect(parseEndpointArg("--in", "eth0:[ff3e::8000:1]:5000@[2001:db8::2]", true)).toMatchObject({ source: "2001:db8::2" });
    expect(parseEndpointArg("--out", "eth1:[ff0e::1]:6000", false)).toEqual({ interface: "eth1", group: "ff0e::1", port: 6000 });
  });
  test("an IPv6 group without brackets, or a source on an output, is refused", () => {
    expect(() => parseEndpointArg("--out", "eth1:ff0e::1:6000", false)).toThrow(/--out must be IF:GROUP:PORT \(IF:\[GROUP\]:PORT for IPv6\)/);
    expect(() => parseEndpointArg("--out", "eth1:239.1.1.1:6000@10.0.0.2", false)).toThrow(/--out must be/);
  });
});
