// The link store, and what links and rules may not share, against embedded SQLite and a real
// PostgreSQL server (tests/lib/stores.ts).
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { linkId } from "../../../rules/load.ts";
import { ruleSchema, type RuleInput } from "../../../rules/schema.ts";
import { storeSuite } from "../../../tests/lib/stores.ts";
import { ConflictError, storeOn, type LinkInput, type RuleStore } from "./index.ts";
import { RULES } from "./kinds.ts";
import pg from "pg";
import { startPostgres, type TestPostgres } from "../../../tests/lib/postgres.ts";
import { openPostgres } from "./pg.ts";
import { openSqlite } from "./sqlite.ts";

const link = (a: string, b: string, extra: Partial<LinkInput> = {}): LinkInput => ({ a, b, ...extra });
const rule = (ifname: string, port = 5000, extra: Partial<RuleInput> = {}): RuleInput => ({
  input: { interface: ifname, group: "239.1.1.1", port },
  outputs: [{ interface: "out0", group: "239.9.9.9", port: 6000 }],
  ...extra,
});

async function conflict(p: Promise<unknown>): Promise<ConflictError> {
  const e = await p.then(() => null, (e) => e);
  expect(e).toBeInstanceOf(ConflictError);
  return e as ConflictError;
}

const what = (e: ConflictError) => ({ field: e.field, path: e.path, otherId: e.otherId });

storeSuite("link store", ({ kind, fresh, open, close }) => {
  let s: RuleStore;

  test("create, get, list, replace, delete; every field kept", async () => {
    s = await fresh();
    expect(await s.links.list()).toEqual([]);
    const flows = [{ name: "web", match: { address: "10.0.0.0/8", protocol: "tcp" as const, ports: "80-443" }, aToB: { delayMs: 50 } },
      { name: "dns", match: { protocol: 17 }, bToA: { loss: 0.5, seed: 3 } }];
    const a = await s.links.create(link("veth-a", "veth-b", { name: "wan", aToB: { loss: 0.01, jitterMs: 2 }, flows }));
    expect(a).toEqual({ id: linkId({ a: "veth-a", b: "veth-b" }), name: "wan", a: "veth-a", b: "veth-b", aToB: { loss: 0.01, jitterMs: 2 }, flows,
      revision: a.revision, createdAt: a.createdAt, updatedAt: a.createdAt });
    expect(new Date(a.createdAt).toISOString()).toBe(a.createdAt);
    const b = await s.links.create(link("c0", "d0", { id: "cd" }));
    expect(b.id).toBe("cd");
    expect("name" in b || "flows" in b || "aToB" in b).toBe(false);
    expect(await s.links.get(a.id)).toEqual(a);
    expect(await s.links.get("nope")).toBeNull();
    expect((await s.links.list()).map((l) => l.id)).toEqual([a.id, "cd"]);
    // Links and rules are apart: the rules see none of them.
    expect(await s.list()).toEqual([]);

    await Bun.sleep(5);
    const r = await s.links.replace(a.id, link("veth-b", "veth-a", { name: "wan2" }));
    expect(r).toMatchObject({ id: a.id, name: "wan2", a: "veth-b", b: "veth-a", createdAt: a.createdAt });
    expect("flows" in r!).toBe(false);
    expect(r!.updatedAt > a.updatedAt).toBe(true);
    expect(await s.links.get(a.id)).toEqual(r);
    expect(await s.links.replace("nope", link("x0", "y0"))).toBeNull();
    expect(await s.links.get("nope")).toBeNull();

    expect(await s.links.delete(a.id)).toBe(true);
    expect(await s.links.delete(a.id)).toBe(false);
    expect((await s.links.list()).map((l) => l.id)).toEqual(["cd"]);
    // Its interfaces and name are free again.
    expect((await s.links.create(link("veth-a", "veth-b", { name: "wan2" }))).name).toBe("wan2");
    expect(s.kind).toBe(kind);
  });

  test("conflicts among links name the field; nothing is stored", async () => {
    s = await fresh();
    await s.links.create(link("a0", "b0", { id: "one", name: "first" }));
    const before = await s.links.list();
    expect(what(await conflict(s.links.create(link("x0", "y0", { id: "one" }))))).toEqual({ field: "id", path: ["id"], otherId: "one" });
    expect(what(await conflict(s.links.create(link("x0", "y0", { name: "first" }))))).toEqual({ field: "name", path: ["name"], otherId: "one" });
    // An interface is one link's, as a or as b.
    for (const [a, b, field] of [["a0", "y0", "a"], ["b0", "y0", "a"], ["x0", "a0", "b"], ["x0", "b0", "b"]] as const) {
      const e = await conflict(s.links.create(link(a, b)));
      expect(what(e)).toEqual({ field, path: [field], otherId: "one" });
      expect(e.message).toBe(`interface ${field === "a" ? a : b} already belongs to link one`);
    }
    // The same ends, derived id: reported as the interface, not as the (equal) derived id.
    await s.links.create(link("p0", "q0"));
    expect((await conflict(s.links.create(link("p0", "q0")))).field).toBe("a");

    const two = await s.links.create(link("c0", "d0", { id: "two" }));
    expect(what(await conflict(s.links.replace("two", link("c0", "a0"))))).toEqual({ field: "b", path: ["b"], otherId: "one" });
    expect((await conflict(s.links.replace("two", link("c0", "d0", { name: "first" })))).field).toBe("name");
    expect((await conflict(s.links.replace("two", link("c0", "d0", { id: "other" })))).field).toBe("id");
    // Keeping its own interfaces and name, or swapping its ends, is no conflict.
    expect(await s.links.replace("one", link("b0", "a0", { name: "first" }))).not.toBeNull();
    expect(await s.links.get("two")).toEqual(two);
    expect((await s.links.list()).length).toBe(before.length + 2);
  });

  test("an interface is a link's or rules' input, not both: checked both ways", async () => {
    s = await fresh();
    const r = await s.create(rule("in0", 5000, { id: "feed" }));
    await s.links.create(link("la", "lb", { id: "lab" }));

    // A link on a rule's input.
    let e = await conflict(s.links.create(link("in0", "x0")));
    expect(what(e)).toEqual({ field: "a", path: ["a"], otherId: "feed" });
    expect(e.message).toBe("interface in0 is the input of rule feed: an interface is a link's or rules' input, not both");
    expect(what(await conflict(s.links.create(link("x0", "in0"))))).toEqual({ field: "b", path: ["b"], otherId: "feed" });
    expect(what(await conflict(s.links.replace("lab", link("la", "in0"))))).toEqual({ field: "b", path: ["b"], otherId: "feed" });
    // A rule whose input is a link's interface, created or replaced.
    e = await conflict(s.create(rule("lb")));
    expect(what(e)).toEqual({ field: "input", path: ["input", "interface"], otherId: "lab" });
    expect(e.message).toBe("interface lb belongs to link lab: an interface is a link's or rules' input, not both");
    expect(what(await conflict(s.replace("feed", rule("la"))))).toEqual({ field: "input", path: ["input", "interface"], otherId: "lab" });
    // An output on a link's interface takes nothing from it.
    expect((await s.create(rule("in0", 5001, { outputs: [{ interface: "la", group: "239.9.9.9", port: 6000 }] }))).outputs[0].interface).toBe("la");

    // Exactly that interface: not one whose name begins the same, nor another case, nor one that
    // a pattern would match (_ and % are LIKE's wildcards).
    await s.create(rule("e_h0", 5002));
    await s.create(rule("Eth0", 5003));
    await s.create(rule("eth%", 5004));
    expect((await s.links.create(link("eth", "eth0"))).a).toBe("eth");
    await s.links.create(link("in", "in00"));

    expect((await s.list()).map((x) => x.id)).toContain(r.id);
    expect((await s.links.list()).map((l) => [l.a, l.b])).toEqual([["la", "lb"], ["eth", "eth0"], ["in", "in00"]]);
    expect((await s.get("feed"))!.input.interface).toBe("in0");
  });

  test("upsertMany: links by id, then by name; rules and links in one transaction", async () => {
    s = await fresh();
    const byId = await s.links.create(link("a0", "b0", { id: "one", name: "first" }));
    const byName = await s.links.create(link("c0", "d0", { name: "second" }));
    const same = await s.links.create(link("e0", "f0"));
    await Bun.sleep(5);

    const res = await s.upsertMany([rule("in0")], [
      link("a1", "b1", { id: "one", name: "first-renamed" }), // same id: new ends and name
      link("c1", "d1", { name: "second" }), // new ends (so a new derived id) but the same name: that link
      link("e0", "f0"), // as stored: unchanged
      link("g0", "h0", { name: "new" }), // inserted
    ]);
    expect(res).toEqual({ inserted: 2, updated: 2 }); // the rule and "new"; "one" and "second"
    const all = await s.links.list();
    expect(all.length).toBe(4);
    expect(all.find((l) => l.id === "one")).toMatchObject({ name: "first-renamed", a: "a1", createdAt: byId.createdAt });
    expect(all.find((l) => l.name === "second")).toMatchObject({ id: byName.id, a: "c1", createdAt: byName.createdAt });
    expect(all.find((l) => l.id === same.id)).toEqual(same);
    expect(all.find((l) => l.name === "new")!.id).toBe(linkId({ a: "g0", b: "h0" }));
    expect((await s.list()).length).toBe(1);

    // A file may move an interface from a link to a rule and back in one go: checked once all is
    // written, whatever the order in the file.
    expect(await s.upsertMany([rule("a1", 5000, { id: "moved" })], [link("a2", "b1", { id: "one", name: "first-renamed" })])).toEqual({ inserted: 1, updated: 1 });
    expect(await s.upsertMany([rule("a2", 5000, { id: "moved" })], [link("a1", "b1", { id: "one", name: "first-renamed" })])).toEqual({ inserted: 0, updated: 2 });

    // A clash anywhere rolls back the whole file, rules too.
    const rules = await s.list();
    const links = await s.links.list();
    let e = await conflict(s.upsertMany([rule("in9", 5000, { id: "late" })], [link("z0", "z1"), link("z2", "a1")]));
    expect(what(e)).toEqual({ field: "b", path: ["b"], otherId: "one" });
    e = await conflict(s.upsertMany([rule("z3", 5000, { id: "late" })], [link("z3", "z4")]));
    expect(what(e)).toEqual({ field: "input", path: ["input", "interface"], otherId: linkId({ a: "z3", b: "z4" }) });
    expect(await s.list()).toEqual(rules);
    expect(await s.links.list()).toEqual(links);
  });

  test("links persist across close and reopen; restore puts one back as it was", async () => {
    s = await fresh();
    const a = await s.links.create(link("a0", "b0", { name: "kept", bToA: { delayMs: 5 } }));
    await close(s);
    s = await open();
    expect(await s.links.list()).toEqual([a]);
    await conflict(s.links.create(link("b0", "c0")));
    expect(await s.links.delete(a.id)).toBe(true);
    expect(await s.links.restore(a, null)).toBe(true);
    expect(await s.links.get(a.id)).toEqual(a);
  });

  test("concurrent writers on one interface, from two connections: exactly one wins", async () => {
    s = await fresh();
    const s2 = await open();
    // Links against links: the losers are told which link has the interface.
    const tries = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 ? s : s2).links.create(link("shared0", `other${i}`, { id: `l${i}` }))));
    const won = tries.filter((t) => t.status === "fulfilled");
    expect(won.length).toBe(1);
    const winner = (won[0] as PromiseFulfilledResult<{ id: string }>).value.id;
    for (const t of tries) if (t.status === "rejected") expect(what(t.reason)).toEqual({ field: "a", path: ["a"], otherId: winner });
    // A link against a rule on the same interface: no constraint of one table sees the other, so
    // the store_revision row every write takes first is what keeps both from getting in.
    for (let i = 0; i < 10; i++) {
      const ifname = `race${i}`;
      const res = await Promise.allSettled([s.create(rule(ifname)), s2.links.create(link(ifname, `peer${i}`))]);
      expect({ i, won: res.filter((x) => x.status === "fulfilled").length }).toEqual({ i, won: 1 });
      for (const x of res) if (x.status === "rejected") expect(x.reason).toBeInstanceOf(ConflictError);
    }
    expect((await s.links.list()).length + (await s.list()).length).toBe(11);
  });
});

/** A copy of one dialect's migrations up to and including `last` (those a database made before
 *  links has applied), for a store to be made as that release made it. */
async function migrationsUpTo(dir: string, dialect: "sqlite" | "pg", last: string): Promise<string> {
  const all = join(import.meta.dir, "../../../drizzle", dialect);
  const old = join(dir, `migrations-${dialect}`);
  mkdirSync(join(old, "meta"), { recursive: true });
  const journal = await Bun.file(join(all, "meta/_journal.json")).json();
  const upTo = journal.entries.findIndex((e: { tag: string }) => e.tag === last);
  expect(upTo).toBeGreaterThanOrEqual(0);
  const entries = journal.entries.slice(0, upTo + 1);
  for (const e of entries) cpSync(join(all, `${e.tag}.sql`), join(old, `${e.tag}.sql`));
  await Bun.write(join(old, "meta/_journal.json"), JSON.stringify({ ...journal, entries }));
  return old;
}

/** A rule as the store before links wrote it (that store's code is gone: its columns, by hand). */
const oldRule = (id: string, ifname: string, node: string, revision: number) => {
  const r = RULES.row(ruleSchema.parse(rule(ifname, 5000, node === "*" ? {} : { node })), id, revision, "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z");
  return [r.id, r.name, r.inputKey, JSON.stringify(r.body), r.createdAt, r.updatedAt, r.node, r.revision] as const;
};

/** What a store upgraded from the release before links must do: keep its rules and revision, and
 *  take links with every check, on each node. */
async function expectUpgraded(after: RuleStore): Promise<void> {
  expect((await after.list()).map((r) => [r.id, r.input.interface, r.node ?? "*", r.revision])).toEqual([["old-b", "in1", "b", 8], ["old-rule", "in0", "*", 7]]); // one createdAt: by id
  expect(what(await conflict(after.links.create(link("in0", "x0"))))).toEqual({ field: "a", path: ["a"], otherId: "old-rule" });
  // in1 is node b's rule input: node c's link may have its own in1.
  expect(what(await conflict(after.links.create(link("in1", "x1", { node: "b" }))))).toEqual({ field: "a", path: ["a"], otherId: "old-b" });
  const l = await after.links.create(link("in1", "x1", { node: "c" }));
  expect([l.a, l.node, l.revision]).toEqual(["in1", "c", 9]); // the store's revision goes on
  expect((await after.links.revisions("c"))).toEqual(new Map([[l.id, 9]]));
}

test("a SQLite store made before links (migrations 0000–0002) keeps its rules and gains links", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mcrelay-store-"));
  try {
    const old = await migrationsUpTo(dir, "sqlite", "0002_input_key_index");
    await openSqlite(join(dir, "state"), old).close();
    const db = new Database(join(dir, "state", "mcrelay.db"));
    for (const r of [oldRule("old-rule", "in0", "*", 7), oldRule("old-b", "in1", "b", 8)]) {
      db.run("INSERT INTO rules (id, name, input_key, body, created_at, updated_at, node, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [...r]);
    }
    db.run("INSERT INTO store_revision (id, value) VALUES (1, 8)");
    db.close();

    const after = storeOn(openSqlite(join(dir, "state"), join(import.meta.dir, "../../../drizzle/sqlite")));
    try {
      await expectUpgraded(after);
    } finally {
      await after.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("a PostgreSQL store made before links", () => {
  let server: TestPostgres | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  test("(migrations 0000–0003) keeps its rules, revision and reports, and gains links", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mcrelay-store-"));
    const url = await server!.createDatabase("upgrade");
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await (await openPostgres(url, await migrationsUpTo(dir, "pg", "0003_input_key_index"))).close();
      for (const r of [oldRule("old-rule", "in0", "*", 7), oldRule("old-b", "in1", "b", 8)]) {
        await client.query("INSERT INTO rules (id, name, input_key, body, created_at, updated_at, node, revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", [...r]);
      }
      await client.query("INSERT INTO store_revision (id, value) VALUES (1, 8)");
      await client.query("INSERT INTO rule_status (rule_id, node, revision, state, reason, updated_at) VALUES ('old-b', 'b', 8, 'active', NULL, now())");

      const after = storeOn(await openPostgres(url, join(import.meta.dir, "../../../drizzle/pg")));
      try {
        await expectUpgraded(after);
        // The reports there were are a rule's; a link's are told apart by kind, and announced as rules are.
        expect((await client.query("SELECT kind, rule_id, node, revision FROM rule_status")).rows).toEqual([{ kind: "rule", rule_id: "old-b", node: "b", revision: "8" }]);
        expect((await client.query("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname")).rows.map((r) => r.tgname)).toEqual(["links_notify", "rules_notify"]);
      } finally {
        await after.close();
      }
    } finally {
      await client.end();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
