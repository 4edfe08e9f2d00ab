// A link from flags and from KEY=VALUE pairs, without a relay: what the CLI would send.
import { describe, expect, test } from "bun:test";
import { leafPaths, valuePaths } from "../rules/forms.ts";
import { linkObject, linkSchema } from "../rules/link.ts";
import { UsageError } from "./errors.ts";
import { parsePath } from "./fields.ts";
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

  test("not a number where one is wanted: sent as text, for the API to name the field", () => {
    expect(flags(["--a", "x", "--aToB.loss", "lots"])).toEqual({ a: "x", aToB: { loss: "lots" } });
    expect(linkSchema.safeParse({ a: "x", b: "y", aToB: { loss: "lots" } }).error?.issues[0].path).toEqual(["aToB", "loss"]);
  });

  test("KEY=VALUE: a leaf, an index into a list, JSON for an object or list, empty removes", () => {
    const cur = () => ({ name: "lab", a: "la0", b: "lb0", aToB: { loss: 0.1, delayMs: 5 }, flows: [{ name: "web", match: { ports: "80" } }] });
    expect(FIELDS.assign(cur(), ["aToB.loss=0.2", "flows[0].match.ports=443", "bToA.stages=drop-odd-size"])).toEqual({ ...cur(), aToB: { loss: 0.2, delayMs: 5 },
      flows: [{ name: "web", match: { ports: "443" } }], bToA: { stages: ["drop-odd-size"] } });
    expect(FIELDS.assign(cur(), ["name=", "aToB.delayMs=", "flows=[]"])).toEqual({ a: "la0", b: "lb0", aToB: { loss: 0.1 }, flows: [] });
    expect(FIELDS.assign(cur(), ['aToB={"jitterMs":3}', "flows[1]={\"name\":\"dns\",\"match\":{}}"])).toMatchObject({ aToB: { jitterMs: 3 }, flows: [{ name: "web" }, { name: "dns", match: {} }] });
    expect(FIELDS.assign(cur(), ["flows[0]="]).flows).toEqual([]);
    // Unknown keys are passed on: the API names them.
    expect(FIELDS.assign(cur(), ["colour=red"]).colour).toBe("red");
    for (const bad of ["aToB.loss", "=1", "a b=1", "flows[x]=1", "aToB={"]) expect(() => FIELDS.assign(cur(), [bad])).toThrow(UsageError);
  });

  test("parsePath reads keys as the API's errors write them", () => {
    expect(parsePath("flows[0].match.ports")).toEqual(["flows", 0, "match", "ports"]);
    expect(parsePath("a")).toEqual(["a"]);
    expect(parsePath("flows[].name")).toBeNull();
    expect(parsePath("a..b")).toBeNull();
  });
});
