// A link from flags and from FIELD=VALUE pairs, without a relay: what the CLI would send.
import { describe, expect, test } from "bun:test";
import { leafPaths, valuePaths } from "../rules/forms.ts";
import { linkObject, linkSchema } from "../rules/link.ts";
import { assign, coerce, parseAssignments, parsePath } from "./assign.ts";
import { UsageError } from "./errors.ts";
import { FIELDS } from "./links.ts";
import { parse } from "./options.ts";

const flags = (argv: string[]) => FIELDS.fromFlags(parse(argv, FIELDS.options()).values);

describe("link fields from the command line", () => {
  test("a flag per field and --flow per flow make the link, values as the schema takes them", () => {
    const body = flags(["--a", "la0", "--b", "lb0", "--name", "42", "--aToB.loss", "0.1", "--aToB.stages", "drop-odd-size", "--bToA.seed", "7",
      "--flow", "name=web,match.protocol=tcp,match.ports=80-443,aToB.delayMs=5", "--flow", "name=dns,match.protocol=17,match.address=10.0.0.0/8"]);
    expect(body).toEqual({ name: "42", a: "la0", b: "lb0", aToB: { loss: 0.1, stages: ["drop-odd-size"] }, bToA: { seed: 7 },
      flows: [{ name: "web", match: { protocol: "tcp", ports: "80-443" }, aToB: { delayMs: 5 } }, { name: "dns", match: { protocol: 17, address: "10.0.0.0/8" } }] });
    expect(linkSchema.safeParse(body).success).toBe(true);
  });

  test("every leaf of the schema has its flag (a field added to rules/link.ts gets one)", () => {
    const argv: string[] = [];
    const flow: string[] = [];
    for (const p of leafPaths(linkObject)) {
      const value = p.endsWith("stages") ? "drop-odd-size" : p.endsWith("protocol") ? "udp" : p.endsWith("ports") ? "53" : p.endsWith("address") ? "10.0.0.0/8" : /\.\w+$/.test(p) ? "0.5" : "x0";
      if (p.startsWith("flows[].")) flow.push(`${p.slice("flows[].".length)}=${value}`);
      else argv.push(`--${p}`, value);
    }
    const body = flags([...argv, "--flow", flow.join(",")]);
    expect(valuePaths(body).sort()).toEqual(leafPaths(linkObject).sort());
  });

  test("not a number where one is wanted: a usage error naming the field, before the API is asked", () => {
    expect(() => flags(["--a", "x", "--aToB.loss", "lots"])).toThrow('aToB.loss: "lots" is not a number');
    expect(() => flags(["--a", "x", "--flow", "name=web,match.protocol=17,aToB.loss=lots"])).toThrow('flows[0].aToB.loss: "lots" is not a number');
  });

  test("coerce: numbers and booleans where the field takes them, text otherwise, lists from commas", () => {
    const at = (path: (string | number)[], text: string) => coerce(linkObject, path, text);
    expect(at(["aToB", "loss"], "0.25")).toBe(0.25);
    expect(at(["aToB", "seed"], "7")).toBe(7);
    expect(at(["flows", 0, "match", "protocol"], "17")).toBe(17);
    expect(at(["flows", 0, "match", "protocol"], "tcp")).toBe("tcp");
    // A string field keeps digits as text: ports "80" is a range, a name may be "42".
    expect(at(["flows", 0, "match", "ports"], "80")).toBe("80");
    expect(at(["name"], "42")).toBe("42");
    expect(at(["aToB", "stages"], "drop-odd-size,corrupt")).toEqual(["drop-odd-size", "corrupt"]);
  });

  test("links set FIELD=VALUE: a leaf, an index into a list, JSON for an object or list, empty removes", () => {
    const cur = () => ({ name: "lab", a: "la0", b: "lb0", aToB: { loss: 0.1, delayMs: 5 }, flows: [{ name: "web", match: { ports: "80" } }] });
    const set = (pairs: string[]) => assign(cur(), parseAssignments(pairs, linkObject, "link"));
    expect(set(["aToB.loss=0.2", "flows[0].match.ports=443", "bToA.stages=drop-odd-size", "node=b"])).toEqual({ ...cur(), aToB: { loss: 0.2, delayMs: 5 },
      flows: [{ name: "web", match: { ports: "443" } }], bToA: { stages: ["drop-odd-size"] }, node: "b" });
    expect(set(["name=", "aToB.delayMs=", "flows=[]"])).toEqual({ a: "la0", b: "lb0", aToB: { loss: 0.1 }, flows: [] });
    expect(set(['aToB={"jitterMs":3}', "flows[1]={\"name\":\"dns\",\"match\":{}}"])).toMatchObject({ aToB: { jitterMs: 3 }, flows: [{ name: "web" }, { name: "dns", match: {} }] });
    expect(set(["flows[0]="]).flows).toEqual([]);
    // A field links do not have is named, with the fields they have.
    expect(() => set(["colour=red"])).toThrow("colour: a link has no such field (its fields: id, name, a, b,");
    for (const bad of ["aToB.loss", "=1", "a b=1", "flows[x]=1", "aToB={", "flows[3].name=x"]) expect(() => set([bad])).toThrow(UsageError);
  });

  test("parsePath reads keys as the API's errors write them", () => {
    expect(parsePath("flows[0].match.ports")).toEqual(["flows", 0, "match", "ports"]);
    expect(parsePath("a")).toEqual(["a"]);
    expect(parsePath("flows[].name")).toBeNull();
    expect(parsePath("a..b")).toBeNull();
  });
});
