import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfig, ruleId } from "./load.ts";

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
    ["unknown top-level key", (c) => (c.extra = 1), /unknown key "extra"/],
    ["duplicate input", (c) => c.rules.push({ ...c.rules[0], name: "feed-b" }), /rule 1 "feed-b" field input: same input as rule 0/],
    ["bad node name", (c) => (c.rules[0].node = "no spaces"), /rule 0 "feed-a" field node: node must be "\*" \(every node\) or a node name/],
    ["same input on a node and on every node", (c) => c.rules.push({ ...c.rules[0], name: "feed-b", node: "a" }), /rule 1 "feed-b" field input: same input as rule 0 on a node both run on/],
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

  test("ids are stable without being given", () => {
    const c = parseConfig(good());
    expect(ruleId(c.rules[0])).toBe(ruleId(parseConfig(good()).rules[0]));
    expect(ruleId(c.rules[0])).toMatch(/^r-[0-9a-f]{12}$/);
  });
});
