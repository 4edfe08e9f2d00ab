import { describe, expect, test } from "bun:test";
import { ConfigError, linkId, parseConfig, ruleId } from "./load.ts";

const good = () => ({
  rules: [{ name: "feed-a", input: { interface: "eth0", group: "239.1.1.1", port: 5000 },
    outputs: [{ interface: "eth1", group: "239.2.2.2", port: 6000, ttl: 8, dscp: 46 }] }],
});

function errorOf(raw: unknown): string {
  try {
    parseConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("rules file", () => {
  test("a good file parses, with defaults filled in", () => {
    const c = parseConfig({ rules: [{ input: { interface: "eth0", group: "239.1.1.1", port: 5000 },
      outputs: [{ interface: "eth1", group: "10.0.0.9", port: 6000 }] }] });
    expect(c.rules[0].outputs[0].ttl).toBe(16);
    expect(c.rules[0].outputs[0].dscp).toBe(0);
    expect(c.pool.slots).toBe(8192);
  });

  const bad: [string, (c: any) => void, RegExp][] = [
    ["unknown key", (c) => (c.rules[0].outputs[0].colour = "red"), /rule 0 "feed-a" field outputs\[0\]: unknown key "colour"/],
    ["bad address", (c) => (c.rules[0].input.group = "239.1.1.300"), /rule 0 "feed-a" field input\.group: input group must be/],
    ["port 0", (c) => (c.rules[0].input.port = 0), /field input\.port: port must be 1–65535/],
    ["port 65536", (c) => (c.rules[0].outputs[0].port = 65536), /field outputs\[0\]\.port: port must be 1–65535/],
    ["ttl 0", (c) => (c.rules[0].outputs[0].ttl = 0), /field outputs\[0\]\.ttl: ttl must be 1–255/],
    ["ttl 256", (c) => (c.rules[0].outputs[0].ttl = 256), /field outputs\[0\]\.ttl/],
    ["dscp 64", (c) => (c.rules[0].outputs[0].dscp = 64), /field outputs\[0\]\.dscp: dscp must be 0–63/],
    ["empty outputs", (c) => (c.rules[0].outputs = []), /field outputs: a rule needs at least one output/],
    ["bad interface name", (c) => (c.rules[0].outputs[0].interface = "eth/1"), /field outputs\[0\]\.interface: not a valid Linux interface name/],
    ["long interface name", (c) => (c.rules[0].input.interface = "a-very-long-name0"), /field input\.interface: interface name is longer/],
    ["unicast input without source", (c) => (c.rules[0].input.group = "10.1.1.1"), /field input\.group: a non-multicast input group needs a source/],
    ["output equals input", (c) => (c.rules[0].outputs[0] = { interface: "eth0", group: "239.1.1.1", port: 5000 }), /field outputs\[0\]: output equals the input/],
    ["raw to a unicast address", (c) => (c.rules[0].outputs[0] = { interface: "eth1", group: "10.0.0.9", port: 6000, send: "raw" }),
      /field outputs\[0\]\.send: send "raw" needs a multicast group/],
    ["bad send", (c) => (c.rules[0].outputs[0].send = "kernel"), /field outputs\[0\]\.send: send must be "socket" or "raw"/],
    ["bad udpChecksum", (c) => (c.rules[0].outputs[0].udpChecksum = "no"), /field outputs\[0\]\.udpChecksum: udpChecksum must be true or false/],
    ["bad gso", (c) => (c.rules[0].outputs[0].gso = 1), /field outputs\[0\]\.gso: gso must be true or false/],
    ["gso on a socket output", (c) => Object.assign(c.rules[0].outputs[0], { group: "239.9.9.9", send: "socket", gso: true }), /field outputs\[0\]\.send: gso needs send "raw"/],
    ["gso to a unicast address", (c) => Object.assign(c.rules[0].outputs[0], { group: "10.0.0.9", gso: true }), /field outputs\[0\]\.gso: gso needs an IPv4 multicast group/],
    ["gso on IPv6", (c) => Object.assign(c.rules[0].outputs[0], { group: "ff0e::2", gso: true }), /field outputs\[0\]\.gso: gso needs an IPv4 multicast group/],
    ["gso without the UDP checksum", (c) => Object.assign(c.rules[0].outputs[0], { group: "239.9.9.9", gso: true, udpChecksum: false }), /field outputs\[0\]\.udpChecksum: gso needs the UDP checksum/],
    ["unknown top-level key", (c) => (c.extra = 1), /unknown key "extra"/],
    ["duplicate input", (c) => c.rules.push({ ...c.rules[0], name: "feed-b" }), /rule 1 "feed-b" field input: same input as rule 0/],
    ["bad node name", (c) => (c.rules[0].node = "no spaces"), /rule 0 "feed-a" field node: node must be "\*" \(every node\) or a node name/],
    ["same input on a node and on every node", (c) => c.rules.push({ ...c.rules[0], name: "feed-b", node: "a" }), /rule 1 "feed-b" field input: same input as rule 0 on a node both run on/],
    ["an IPv6 source on an IPv4 group", (c) => (c.rules[0].input.source = "2001:db8::2"),
      /field input\.source: source 2001:db8::2 is IPv6 but group 239\.1\.1\.1 is IPv4: a source filter is of its group's family/],
    ["an IPv4 source on an IPv6 group", (c) => Object.assign(c.rules[0].input, { group: "ff0e::1", source: "10.0.0.2" }), /field input\.source: source 10\.0\.0\.2 is IPv4 but group ff0e::1 is IPv6/],
    ["an IPv6 SSM group without a source", (c) => (c.rules[0].input.group = "ff3e::8000:1"), /field input\.source: ff3e::8000:1 is a source-specific group \(232\.0\.0\.0\/8, ff3x::\/96\): it needs a source/],
    ["an IPv4 SSM group without a source", (c) => (c.rules[0].input.group = "232.1.1.1"), /field input\.source: 232\.1\.1\.1 is a source-specific group/],
    ["an IPv6 address with a zone", (c) => (c.rules[0].outputs[0].group = "fe80::1%eth1"), /field outputs\[0\]\.group: output group must be a multicast or unicast IPv4 or IPv6 address/],
    ["the IPv6 loopback as an output", (c) => (c.rules[0].outputs[0].group = "::1"), /field outputs\[0\]\.group: output group must be/],
    ["a multicast source", (c) => (c.rules[0].input.source = "ff0e::9"), /field input\.source: source must be a unicast IPv4 or IPv6 address/],
    ["udpChecksum false on IPv6", (c) => Object.assign(c.rules[0].outputs[0], { group: "ff0e::2", udpChecksum: false }), /field outputs\[0\]\.udpChecksum: UDP over IPv6 must carry a checksum/],
    ["vlan 0", (c) => (c.rules[0].input.vlan = 0), /field input\.vlan: vlan must be 1–4094/],
    ["vlan 4095", (c) => (c.rules[0].input.vlan = 4095), /field input\.vlan: vlan must be 1–4094/],
    ["a UDP input without a port", (c) => delete c.rules[0].input.port, /field input\.port: a UDP input needs a port/],
    ["a UDP output without a port", (c) => delete c.rules[0].outputs[0].port, /field outputs\[0\]\.port: an output of a UDP rule needs a port/],
    ["an ESP input with a port", (c) => (c.rules[0].input.protocol = "esp"), /field input\.port: protocol esp has no port \(only UDP has one here\)/],
    ["an ESP output with a port", (c) => { c.rules[0].input.protocol = 50; delete c.rules[0].input.port; }, /field outputs\[0\]\.port: an output of a protocol esp rule has no port/],
    ["an ESP output sent raw", (c) => { c.rules[0].input.protocol = "esp"; delete c.rules[0].input.port; c.rules[0].outputs[0] = { interface: "eth1", group: "239.2.2.2", send: "raw" }; },
      /field outputs\[0\]\.send: an output of a protocol esp rule is sent by a raw IP socket/],
    ["an unknown protocol", (c) => (c.rules[0].input.protocol = "quic"), /field input\.protocol: protocol must be one of "icmp", .* or a number 0–255/],
    ["one IPv6 input written two ways", (c) => {
      c.rules[0].input.group = "ff0e::1:1";
      c.rules.push({ ...c.rules[0], name: "feed-b", input: { ...c.rules[0].input, group: "FF0E:0::1:1" } });
    }, /rule 1 "feed-b" field input: same input as rule 0/],
  ];
  for (const [what, mutate, re] of bad) {
    test(`rejects ${what}, naming the rule and field`, () => {
      const c = good();
      mutate(c);
      expect(errorOf(c)).toMatch(re);
    });
  }

  test("the same input on two nodes is no clash, and their ids differ", () => {
    const c = good();
    c.rules.push({ ...c.rules[0], name: "feed-b" });
    Object.assign(c.rules[0], { node: "a" });
    Object.assign(c.rules[1], { node: "b" });
    const [a, b] = parseConfig(c).rules;
    expect(ruleId(a)).not.toBe(ruleId(b));
    // A rule for every node, said or not, keeps the id it had before nodes existed.
    expect(ruleId({ ...a, node: "*" })).toBe(ruleId(parseConfig(good()).rules[0]));
  });

  test("IPv6 and VLAN inputs: both spellings of an address are one id; a VLAN is part of the input; IPv4 ids are as they were", () => {
    const v6 = (group: string, vlan?: number) => parseConfig({ rules: [{ input: { interface: "eth0", group, port: 5000, ...(vlan ? { vlan } : {}) },
      outputs: [{ interface: "eth1", group: "239.2.2.2", port: 6000 }] }] }).rules[0]!;
    expect(ruleId(v6("ff0e::1:1"))).toBe(ruleId(v6("FF0E:0:0:0:0:0:1:1")));
    expect(ruleId(v6("ff0e::1:1", 100))).not.toBe(ruleId(v6("ff0e::1:1")));
    // the same input on two VLANs is no clash
    const c = good();
    c.rules.push({ ...c.rules[0], name: "feed-b", input: { ...c.rules[0].input, vlan: 100 } as any });
    expect(parseConfig(c).rules).toHaveLength(2);
    // derived before IPv6 and VLANs existed (so a store's rules keep their ids)
    expect(ruleId(parseConfig(good()).rules[0])).toBe("r-" + new Bun.CryptoHasher("sha256").update("eth0|239.1.1.1|5000|").digest("hex").slice(0, 12));
  });

  test("a rule of another protocol: no ports; its input is its own (the same group's UDP rule is another)", () => {
    const c = good();
    c.rules.push({ name: "esp", input: { interface: "eth0", group: "239.1.1.1", protocol: "esp" } as any, outputs: [{ interface: "eth1", group: "ff0e::2" } as any] });
    const [udp, esp] = parseConfig(c).rules;
    expect(ruleId(esp!)).not.toBe(ruleId(udp!));
    expect(esp!.outputs[0]).toMatchObject({ group: "ff0e::2", ttl: 16, dscp: 0 });
    expect(esp!.outputs[0]!.port).toBeUndefined();
  });

  test("ids are stable without being given", () => {
    const c = parseConfig(good());
    expect(ruleId(c.rules[0])).toBe(ruleId(parseConfig(good()).rules[0]));
    expect(ruleId(c.rules[0])).toMatch(/^r-[0-9a-f]{12}$/);
  });
});

describe("links in a rules file", () => {
  const withLink = () => ({
    ...good(),
    links: [{ name: "lab", a: "veth-a", b: "veth-b", aToB: { loss: 0.02, delayMs: 40, jitterMs: 5, reorder: 0.01, rateBps: 1e7, seed: 7 }, bToA: { delayMs: 40 },
      flows: [{ name: "dns", match: { protocol: "udp", ports: "53" }, aToB: { loss: 1 } },
        { name: "web", match: { address: "10.0.0.0/8", protocol: "tcp", ports: "80-443" }, bToA: { rateBps: 2e6 } }] }],
  });

  test("the issue's example parses; a link gets a stable id from its interfaces", () => {
    const c = parseConfig(withLink());
    expect(c.links[0]).toMatchObject({ name: "lab", a: "veth-a", b: "veth-b", flows: [{ name: "dns" }, { name: "web" }] });
    expect(linkId(c.links[0])).toMatch(/^l-[0-9a-f]{12}$/);
    expect(linkId(c.links[0])).toBe(linkId(parseConfig(withLink()).links[0]));
    expect(parseConfig(good()).links).toEqual([]);
  });

  const bad: [string, (c: any) => void, RegExp][] = [
    ["a = b", (c) => (c.links[0].b = "veth-a"), /link 0 "lab" field b: b must be another interface than a/],
    ["bad ports", (c) => (c.links[0].flows[0].match.ports = "53-1"), /link 0 "lab" field flows\[0\]\.match\.ports: ports must be "N" or "N-M"/],
    ["port beyond 65535", (c) => (c.links[0].flows[0].match.ports = "70000"), /field flows\[0\]\.match\.ports/],
    ["bad address", (c) => (c.links[0].flows[1].match.address = "10.0.0.0/40"), /field flows\[1\]\.match\.address: address must be an IPv4 or IPv6 prefix/],
    ["bad protocol", (c) => (c.links[0].flows[1].match.protocol = "sctp-ish"), /field flows\[1\]\.match\.protocol: protocol must be/],
    ["two flows of one name", (c) => (c.links[0].flows[1].name = "dns"), /field flows\[1\]\.name: two flows are named "dns"/],
    ["a bad impairment", (c) => (c.links[0].aToB.loss = 2), /link 0 "lab" field aToB\.loss: loss must be 0–1/],
    ["an unknown key", (c) => (c.links[0].colour = 1), /link 0 "lab" field colour|link 0 "lab": unknown key "colour"/],
    ["an interface in two links", (c) => c.links.push({ name: "other", a: "veth-b", b: "veth-c" }), /link 1 "other" field a: veth-b already belongs to link lab/],
    ["a link on a rule's input", (c) => (c.links[0].a = "eth0"), /link 0 "lab" field a: eth0 is the input of rule feed-a/],
    ["the same name twice", (c) => c.links.push({ name: "lab", a: "x0", b: "x1" }), /link 1 "lab" field name: same name as link 0/],
  ];
  for (const [what, mutate, re] of bad) {
    test(`rejects ${what}, naming the link and field`, () => {
      const c = withLink();
      mutate(c);
      expect(errorOf(c)).toMatch(re);
    });
  }
});
