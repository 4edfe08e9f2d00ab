import { describe, expect, test } from "bun:test";
import { fromText, leafKinds, leafPaths } from "./forms.ts";
import { linkObject } from "./link.ts";
import { ruleObject } from "./schema.ts";

describe("leafKinds", () => {
  test("every leaf, by the path errors name it with, and what each takes", () => {
    expect(leafPaths(linkObject)).toEqual(expect.arrayContaining(["a", "aToB.loss", "aToB.stages", "flows[].name", "flows[].match.ports", "flows[].bToA.seed"]));
    // Leaves only: no object or list of objects is a path of its own.
    for (const p of ["aToB", "flows", "flows[]", "flows[].match"]) expect(leafPaths(linkObject)).not.toContain(p);
    const k = leafKinds(linkObject);
    const kind = (p: string) => ({ types: [...k.get(p)!.types].sort(), list: k.get(p)!.list });
    expect(kind("a")).toEqual({ types: ["string"], list: false });
    expect(kind("aToB.loss")).toEqual({ types: ["number"], list: false });
    expect(kind("aToB.stages")).toEqual({ types: ["string"], list: true });
    expect(kind("flows[].match.protocol")).toEqual({ types: ["number", "string"], list: false });
    const r = leafKinds(ruleObject);
    expect([...r.get("outputs[].dscp")!.types].sort()).toEqual(["number", "string"]);
    expect([...r.get("outputs[].udpChecksum")!.types]).toEqual(["boolean"]);
  });

  test("fromText: numbers and booleans where the leaf takes them, text otherwise, lists from commas", () => {
    const k = leafKinds(linkObject);
    expect(fromText(k.get("aToB.loss"), "0.25")).toBe(0.25);
    expect(fromText(k.get("aToB.seed"), "7")).toBe(7);
    // Not a number: left as text, for the schema to name the field.
    expect(fromText(k.get("aToB.loss"), "lots")).toBe("lots");
    expect(fromText(k.get("flows[].match.protocol"), "17")).toBe(17);
    expect(fromText(k.get("flows[].match.protocol"), "tcp")).toBe("tcp");
    // A string leaf keeps digits as text: ports "80" is a range, a name may be "42".
    expect(fromText(k.get("flows[].match.ports"), "80")).toBe("80");
    expect(fromText(k.get("name"), "42")).toBe("42");
    expect(fromText(k.get("aToB.stages"), "drop-odd-size,other")).toEqual(["drop-odd-size", "other"]);
    expect(fromText(leafKinds(ruleObject).get("outputs[].udpChecksum"), "false")).toBe(false);
    expect(fromText(undefined, "3")).toBe("3");
  });
});
