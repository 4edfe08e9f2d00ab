import { describe, expect, test } from "bun:test";
import type { z } from "zod";
import { leafPaths, schemaAt, valueKinds } from "./forms.ts";
import { linkObject } from "./link.ts";
import { ruleObject } from "./schema.ts";

describe("a schema's leaves and what each takes", () => {
  test("every leaf, by the path errors name it with, and the kinds of value at a path", () => {
    expect(leafPaths(linkObject)).toEqual(expect.arrayContaining(["a", "node", "aToB.loss", "aToB.stages", "flows[].name", "flows[].match.ports", "flows[].bToA.seed"]));
    // Leaves only: no object or list of objects is a path of its own.
    for (const p of ["aToB", "flows", "flows[]", "flows[].match"]) expect(leafPaths(linkObject)).not.toContain(p);
    const kinds = (path: (string | number)[], schema: z.ZodType = linkObject) => [...valueKinds(schemaAt(schema, path)!)].sort();
    expect(kinds(["a"])).toEqual(["string"]);
    expect(kinds(["aToB", "loss"])).toEqual(["number"]);
    expect(kinds(["aToB", "stages"])).toEqual(["array"]);
    expect(kinds(["flows", 0, "match", "protocol"])).toEqual(["number", "string"]);
    expect(kinds(["flows", 0, "match"])).toEqual(["object"]);
    expect(kinds(["outputs", 0, "dscp"], ruleObject)).toEqual(["literal", "number"]);
    expect(kinds(["outputs", 0, "udpChecksum"], ruleObject)).toEqual(["boolean"]);
    expect(schemaAt(linkObject, ["colour"])).toBeNull();
    expect(schemaAt(linkObject, ["flows", "x"])).toBeNull();
  });
});
