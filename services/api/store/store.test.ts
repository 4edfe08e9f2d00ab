// The rule store, the same suite against embedded SQLite and a real PostgreSQL server (tests/lib/stores.ts).
import { expect, test } from "bun:test";
import { ruleId } from "../../../rules/load.ts";
import type { Rule, RuleInput } from "../../../rules/schema.ts";
import { storeSuite } from "../../../tests/lib/stores.ts";
import { ConflictError, type RuleStore } from "./index.ts";

function rule(n: number, extra: Partial<Rule> = {}): RuleInput {
  return {
    input: { interface: "eth0", group: `239.1.${n >> 8}.${n & 255}`, port: 5000 },
    outputs: [{ interface: "eth1", group: "239.9.9.9", port: 6000 + (n % 1000), ttl: 16, dscp: 0 }],
    ...extra,
  };
}

async function conflict(p: Promise<unknown>): Promise<ConflictError> {
  const e = await p.then(
    () => null,
    (e) => e,
  );
  expect(e).toBeInstanceOf(ConflictError);
  return e as ConflictError;
}

storeSuite("rule store", ({ kind, fresh: freshStore, open, close }) => {
  let s: RuleStore;
  const fresh = async () => {
    s = await freshStore();
  };

  test("create, get, list, replace, delete", async () => {
    await fresh();
    expect(s.kind).toBe(kind);
    expect(await s.list()).toEqual([]);
    const a = await s.create(rule(1, { name: "a" }));
    expect(a.id).toBe(ruleId(rule(1)));
    expect(a.name).toBe("a");
    expect(a.createdAt).toBe(a.updatedAt);
    expect(new Date(a.createdAt).toISOString()).toBe(a.createdAt);
    await Bun.sleep(2); // listed by createdAt, then id: in the same millisecond "bee" would come first
    const b = await s.create(rule(2, { id: "bee" }));
    expect(b.id).toBe("bee");
    expect(b.name).toBeUndefined();
    expect("name" in b).toBe(false);
    expect(await s.get("bee")).toEqual(b);
    expect(await s.get(a.id)).toEqual(a);
    expect(await s.get("nope")).toBeNull();
    expect((await s.list()).map((r) => r.id)).toEqual([a.id, "bee"]);

    await Bun.sleep(5);
    const r = await s.replace(a.id, rule(3, { name: "a2" }));
    expect(r).not.toBeNull();
    expect(r!.id).toBe(a.id);
    expect(r!.name).toBe("a2");
    expect(r!.input.group).toBe("239.1.0.3");
    expect(r!.createdAt).toBe(a.createdAt);
    expect(r!.updatedAt > a.updatedAt).toBe(true);
    expect(await s.get(a.id)).toEqual(r);
    // The same id in the body is fine; an unknown id is null.
    expect((await s.replace("bee", rule(2, { id: "bee", name: "b" })))!.name).toBe("b");
    expect(await s.replace("nope", rule(4))).toBeNull();
    expect(await s.get("nope")).toBeNull();

    expect(await s.delete(a.id)).toBe(true);
    expect(await s.delete(a.id)).toBe(false);
    expect(await s.get(a.id)).toBeNull();
    expect((await s.list()).map((x) => x.id)).toEqual(["bee"]);
    // The freed name and input can be used again.
    expect((await s.create(rule(3, { name: "a2" }))).name).toBe("a2");
  });

  test("conflicts on id, name and input name the field; nothing is stored", async () => {
    await fresh();
    const a = await s.create(rule(1, { id: "a", name: "alpha" }));
    const b = await s.create(rule(2, { id: "b" }));
    const before = await s.list();

    let e = await conflict(s.create(rule(3, { id: "a" })));
    expect([e.field, e.otherId]).toEqual(["id", "a"]);
    e = await conflict(s.create(rule(3, { name: "alpha" })));
    expect([e.field, e.otherId]).toEqual(["name", "a"]);
    expect(e.message).toContain("alpha");
    e = await conflict(s.create(rule(1, { id: "c" })));
    expect([e.field, e.otherId]).toEqual(["input", "a"]);
    // Same input, derived id: reported as the input, not as the (equal) derived id.
    await s.create(rule(7));
    e = await conflict(s.create(rule(7, { name: "x" })));
    expect(e.field).toBe("input");

    e = await conflict(s.replace("b", rule(2, { name: "alpha" })));
    expect([e.field, e.otherId]).toEqual(["name", "a"]);
    e = await conflict(s.replace("b", rule(1)));
    expect([e.field, e.otherId]).toEqual(["input", "a"]);
    e = await conflict(s.replace("b", rule(2, { id: "other" })));
    expect(e.field).toBe("id");
    // Keeping its own name and input is no conflict.
    expect(await s.replace("a", rule(1, { name: "alpha" }))).not.toBeNull();

    const after = await s.list();
    expect(after.length).toBe(before.length + 1);
    expect(after.find((r) => r.id === "b")).toEqual(b);
    expect(after.find((r) => r.id === "a")!.input).toEqual(a.input);
    expect(after.some((r) => r.id === "c" || r.name === "x")).toBe(false);
  });

  test("upsertMany: by id, then by name; one transaction", async () => {
    await fresh();
    const byId = await s.create(rule(1, { id: "one", name: "first" }));
    const byName = await s.create(rule(2, { name: "second" }));
    const derived = await s.create(rule(3));
    await Bun.sleep(5);

    const res = await s.upsertMany([
      rule(11, { id: "one", name: "first-renamed" }), // same id: updated, new input and name
      rule(12, { name: "second" }), // new input (so new derived id) but same name: updates that rule
      rule(3), // identical to what is stored: unchanged
      rule(14, { name: "new" }), // inserted
    ]);
    expect(res).toEqual({ inserted: 1, updated: 2 });
    const all = await s.list();
    expect(all.length).toBe(4);
    const one = all.find((r) => r.id === "one")!;
    expect([one.name, one.input.group, one.createdAt]).toEqual(["first-renamed", "239.1.0.11", byId.createdAt]);
    expect(one.updatedAt > byId.updatedAt).toBe(true);
    const second = all.find((r) => r.name === "second")!;
    expect([second.id, second.input.group, second.createdAt]).toEqual([byName.id, "239.1.0.12", byName.createdAt]);
    expect(all.find((r) => r.id === derived.id)).toEqual(derived);
    expect(all.find((r) => r.name === "new")!.id).toBe(ruleId(rule(14)));

    // Running the same file again changes nothing.
    expect(await s.upsertMany([rule(11, { id: "one", name: "first-renamed" }), rule(12, { name: "second" }), rule(3), rule(14, { name: "new" })])).toEqual({
      inserted: 0,
      updated: 0,
    });

    // A clash in the last rule rolls back the whole batch.
    let e = await conflict(s.upsertMany([rule(20, { name: "twenty" }), rule(11, { id: "eleven" })]));
    expect([e.field, e.otherId]).toEqual(["input", "one"]);
    e = await conflict(s.upsertMany([rule(20, { name: "twenty" }), rule(12, { name: "first-renamed" })]));
    expect([e.field, e.otherId]).toEqual(["input", byName.id]);
    expect(await s.list()).toEqual(all);
  });

  test("restore puts a replaced or deleted rule back exactly as it was (the undo of a refused write)", async () => {
    await fresh();
    const a = await s.create(rule(1, { id: "a", name: "alpha" }));
    await Bun.sleep(5);
    const beta = (await s.replace("a", rule(2, { name: "beta" })))!;
    expect(await s.restore(a, beta.revision)).toBe(true);
    expect(await s.get("a")).toEqual(a);
    expect(await s.delete("a")).toBe(true);
    expect(await s.restore(a, null)).toBe(true);
    expect(await s.list()).toEqual([a]);
  });

  test("nodes: one input on two nodes; a rule for every node clashes with both; revisions never repeat", async () => {
    await fresh();
    const a = await s.create(rule(1, { node: "a" }));
    const b = await s.create(rule(1, { node: "b" }));
    // Derived from the input and the node; a rule for every node keeps the id it always had.
    expect([a.id, b.id]).toEqual([ruleId(rule(1, { node: "a" })), ruleId(rule(1, { node: "b" }))]);
    expect(a.id).not.toBe(b.id);
    expect(ruleId(rule(1, { node: "*" }))).toBe(ruleId(rule(1)));
    let e = await conflict(s.create(rule(1)));
    expect([e.field, e.otherId]).toEqual(["input", a.id]);
    expect(e.message).toContain("node a");
    e = await conflict(s.create(rule(1, { id: "again-a", node: "a" })));
    expect([e.field, e.otherId]).toEqual(["input", a.id]);
    const star = await s.create(rule(2, { node: "*" }));
    e = await conflict(s.create(rule(2, { node: "c" })));
    expect([e.field, e.otherId]).toEqual(["input", star.id]);
    // Every write takes a new revision.
    expect(b.revision).toBeGreaterThan(a.revision);
    expect(star.revision).toBeGreaterThan(b.revision);
    const moved = (await s.replace(a.id, rule(1, { node: "c" })))!;
    expect([moved.id, moved.node, moved.revision > star.revision]).toEqual([a.id, "c", true]);
    expect(await s.revisions("c")).toEqual(new Map([[a.id, moved.revision], [star.id, star.revision]]));
    expect(await s.revisions("a")).toEqual(new Map([[star.id, star.revision]]));
    // An undo puts the rule back exactly, its revision too — unless another write came since.
    expect(await s.restore(a, moved.revision - 1)).toBe(false);
    expect(await s.get(a.id)).toEqual(moved);
    expect(await s.restore(a, moved.revision)).toBe(true);
    expect(await s.get(a.id)).toEqual(a);
    expect(await s.delete(a.id, a.revision + 1000)).toBe(false);
    expect(await s.restore({ ...a, id: "gone" }, null)).toBe(false); // its input is a's: taken
    // Deleted and made again: a revision not used before.
    expect(await s.delete(b.id)).toBe(true);
    const again = await s.create(rule(1, { node: "b" }));
    expect(again.revision).toBeGreaterThan(moved.revision);
    expect((await s.getMany([a.id, "nope", again.id])).map((r) => r.id).sort()).toEqual([a.id, again.id].sort());
  });

  test("rules persist across close and reopen", async () => {
    await fresh();
    const a = await s.create(rule(1, { name: "kept" }));
    const b = await s.create(rule(2, { id: "b" }));
    await close(s);
    const again = await open();
    // Ordered by createdAt, then id: both may share a millisecond.
    const order = (x: typeof a, y: typeof a) => (x.createdAt === y.createdAt ? (x.id < y.id ? -1 : 1) : x.createdAt < y.createdAt ? -1 : 1);
    expect(await again.list()).toEqual([a, b].sort(order));
    await conflict(again.create(rule(1)));
  });

  test("100 concurrent creates with distinct inputs are all stored", async () => {
    await fresh();
    const made = await Promise.all(Array.from({ length: 100 }, (_, i) => s.create(rule(i + 1))));
    const ids = new Set(made.map((r) => r.id));
    expect(ids.size).toBe(100);
    const all = await s.list();
    expect(all.length).toBe(100);
    expect(new Set(all.map((r) => r.id))).toEqual(ids);
    // Ordered by createdAt, then id.
    const sorted = [...all].sort((x, y) => (x.createdAt < y.createdAt ? -1 : x.createdAt > y.createdAt ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    expect(all.map((r) => r.id)).toEqual(sorted.map((r) => r.id));
  });

  test("20 concurrent creates of the same input: one wins, the others are input conflicts", async () => {
    await fresh();
    // Two stores on the same database, so creates also race across connections (and, for SQLite, across locks).
    const s2 = await open();
    const tries = Array.from({ length: 20 }, (_, i) => (i % 2 ? s : s2).create(rule(5, { id: `same-${i}` })));
    const results = await Promise.allSettled(tries);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won.length).toBe(1);
    expect(lost.length).toBe(19);
    const winner = (won[0] as PromiseFulfilledResult<{ id: string }>).value.id;
    for (const l of lost) {
      expect(l.reason).toBeInstanceOf(ConflictError);
      expect([l.reason.field, l.reason.otherId]).toEqual(["input", winner]);
    }
    expect((await s.list()).map((r) => r.id)).toEqual([winner]);

    // The same without ids (so all derive the same id).
    const derived = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 ? s : s2).create(rule(6))));
    expect(derived.filter((r) => r.status === "fulfilled").length).toBe(1);
    for (const l of derived.filter((r): r is PromiseRejectedResult => r.status === "rejected")) {
      expect(l.reason).toBeInstanceOf(ConflictError);
      expect(l.reason.field).toBe("input");
    }
    expect((await s.list()).length).toBe(2);
  });
});
