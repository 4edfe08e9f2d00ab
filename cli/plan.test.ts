// apply's plan with links (pure: no relay): links and rules' inputs share no interface, so the
// order of the requests must free an interface before another takes it.
import { describe, expect, test } from "bun:test";
import { CliError } from "./errors.ts";
import { plan, type Identified, type IdentifiedLink } from "./plan.ts";

const R = (id: string, ifname: string, port = 5000): Identified => ({ id, input: { interface: ifname, group: "239.1.1.1", port },
  outputs: [{ interface: "out0", group: "239.2.2.2", port: 9000, ttl: 16, dscp: 0 }] });
const L = (id: string, a: string, b: string, name?: string): IdentifiedLink => ({ id, ...(name ? { name } : {}), a, b });
const steps = (p: ReturnType<typeof plan>) => p.steps.map((s) => `${s.action} ${s.kind} ${s.id}`);

describe("apply's plan with links", () => {
  test("creates, updates and deletes of both kinds; unchanged ones are counted apart", () => {
    const p = plan({ rules: [R("r", "in0")], links: [L("keep", "a0", "b0"), L("new", "c0", "d0"), L("moved", "e1", "f0")] },
      { rules: [R("r", "in0")], links: [L("keep", "a0", "b0"), L("moved", "e0", "f0"), L("gone", "g0", "h0")] }, true);
    expect(p.changes.map((c) => `${c.op} ${c.kind} ${c.id}`)).toEqual(["create link new", "update link moved", "delete link gone"]);
    expect(p.changes.find((c) => c.op === "update")).toMatchObject({ fields: [{ path: "a", from: "e0", to: "e1" }] });
    expect([p.unchanged, p.unchangedLinks]).toEqual([["r"], ["keep"]]);
    expect(steps(p)).toEqual(["create link new", "put link moved", "delete link gone"]);
  });

  test("an interface goes from a rule to a link, and from a link to a rule: the one that frees it goes first", () => {
    const toLink = plan({ rules: [], links: [L("l", "in0", "b0")] }, { rules: [R("r", "in0")], links: [] }, true);
    expect(steps(toLink)).toEqual(["delete rule r", "create link l"]);
    const toRule = plan({ rules: [R("r", "a0")], links: [L("l", "x0", "b0")] }, { rules: [], links: [L("l", "a0", "b0")] }, true);
    expect(steps(toRule)).toEqual(["put link l", "create rule r"]);
    // Two links trading an interface: one is deleted and created again.
    const swap = plan({ rules: [], links: [L("p", "a0", "y0"), L("q", "x0", "b0")] }, { rules: [], links: [L("p", "x0", "y0"), L("q", "a0", "b0")] }, true);
    expect(steps(swap)).toEqual(["delete link q", "put link p", "create link q"]);
    // Names are per kind: a link may be named as a rule is.
    expect(steps(plan({ rules: [{ ...R("r", "in0"), name: "x" }], links: [L("l", "a0", "b0", "x")] }, { rules: [], links: [] }, true))).toEqual(["create rule r", "create link l"]);
  });

  test("--no-prune: a link in the file on the input of a rule the server keeps cannot be applied", () => {
    expect(() => plan({ rules: [], links: [L("l", "in0", "b0")] }, { rules: [R("r", "in0")], links: [] }, false))
      .toThrow(new CliError("link l in the file has the same interface in0 as rule r on the server, which is not in the file and is kept (--no-prune)"));
    const kept = plan({ rules: [], links: [] }, { rules: [R("r", "in0")], links: [L("l", "a0", "b0")] }, false);
    expect([kept.kept, kept.keptLinks, kept.steps]).toEqual([["r"], ["l"], []]);
  });
});
