// DataPlaneSync without a supervisor: a stand-in for the control socket records each request and
// answers as told, over the real store logic in memory. What is sent, and what is stored after.
import { describe, expect, test } from "bun:test";
import type { Link } from "../../rules/link.ts";
import { linkId, ruleId } from "../../rules/load.ts";
import type { Rule } from "../../rules/schema.ts";
import type { RequestBody } from "../protocol/control.ts";
import { RefusedError, type SupervisorLink } from "./link.ts";
import { storeOn } from "./store/index.ts";
import { memoryBackend } from "./store/memory.ts";
import { DataPlaneSync, toLink } from "./sync.ts";

const rule = (ifname: string, port = 5000): Rule => ({ input: { interface: ifname, group: "239.1.1.1", port }, outputs: [{ interface: "out0", group: "239.2.2.2", port: 6000, ttl: 16, dscp: 0 }], traceSampleRatio: 0 });
const link = (a: string, b: string, extra: Partial<Link> = {}): Link => ({ a, b, ...extra });

function setUp(file: { rules?: Rule[]; links?: Link[] } = {}) {
  const sent: RequestBody[] = [];
  let refuse: RefusedError | null = null;
  const control = {
    connected: true,
    invalidate() {},
    async request(body: RequestBody) {
      sent.push(body);
      if (body.type === "hello") return { type: "hello", ok: true, fileRules: file.rules ?? [], fileLinks: file.links ?? [], shm: "/x", node: "n1", startedAt: "2026-01-01T00:00:00.000Z" };
      if (body.type === "imported") return { type: "done", ok: true };
      if (refuse) throw refuse;
      const links = body.type === "change" ? (body.links?.put ?? []).map((l) => ({ id: linkId(l), state: "active" })) : [];
      return { type: "applied", ok: true, version: 1, rules: [], links };
    },
  } as unknown as SupervisorLink;
  const log = { warn() {}, info() {}, error() {}, debug() {} };
  const store = storeOn(memoryBackend());
  return { sent, store, sync: new DataPlaneSync(store, control, log), refuseWith: (e: RefusedError | null) => void (refuse = e) };
}

describe("DataPlaneSync and links", () => {
  test("on connect: the file's rules and links are imported, then both are sent whole", async () => {
    const { sent, store, sync } = setUp({ rules: [rule("in0")], links: [link("la", "lb", { name: "lab" })] });
    await store.links.create(link("xa", "xb", { id: "api-made" }));
    await sync.importAndSync();
    expect(sync.synced).toBe(true);
    expect(sent.map((r) => r.type)).toEqual(["hello", "imported", "sync"]);
    const s = sent[2] as Extract<RequestBody, { type: "sync" }>;
    expect(s.rules.map((r) => ruleId(r))).toEqual([ruleId(rule("in0"))]);
    // Every stored link, as the data plane takes it (no timestamps), the API's own too.
    expect(s.links).toEqual([{ id: "api-made", a: "xa", b: "xb" }, { id: linkId({ a: "la", b: "lb" }), name: "lab", a: "la", b: "lb" }]);
  });

  test("a file with links only is imported too; an empty one is not acknowledged", async () => {
    const only = setUp({ links: [link("la", "lb")] });
    await only.sync.importAndSync();
    expect(only.sent.map((r) => r.type)).toEqual(["hello", "imported", "sync"]);
    expect((await only.store.links.list()).map((l) => l.a)).toEqual(["la"]);
    const none = setUp();
    await none.sync.importAndSync();
    expect(none.sent.map((r) => r.type)).toEqual(["hello", "sync"]);
    expect((none.sent[1] as Extract<RequestBody, { type: "sync" }>).links).toEqual([]);
  });

  test("a file whose link takes a stored rule's input is not imported, and nothing of it is stored", async () => {
    const { sent, store, sync } = setUp({ rules: [rule("in1")], links: [link("in0", "lb")] });
    await store.create(rule("in0"));
    await sync.importAndSync();
    expect(sync.synced).toBe(false);
    expect(sent.map((r) => r.type)).toEqual(["hello"]);
    expect((await store.list()).map((r) => r.input.interface)).toEqual(["in0"]);
    expect(await store.links.list()).toEqual([]);
  });

  test("a link's write is a change of links only; a refused one is undone", async () => {
    const { sent, store, sync, refuseWith } = setUp();
    const made = await sync.write(async () => {
      const l = await store.links.create(link("la", "lb"));
      return { value: l, noun: "link" as const, put: [l], delete: [], undo: () => store.links.delete(l.id, l.revision) };
    });
    expect(sent.at(-1)).toEqual({ type: "change", put: [], delete: [], links: { put: [{ id: linkId({ a: "la", b: "lb" }), a: "la", b: "lb" }], delete: [] } });
    expect(made).toMatchObject({ ok: true });
    expect(made!.ok && made!.states.links.get(linkId({ a: "la", b: "lb" }))).toEqual({ id: linkId({ a: "la", b: "lb" }), state: "active" });

    refuseWith(new RefusedError({ ok: false, error: "refused", issues: [{ kind: "link", id: "x", path: ["b"], message: "no interface lb9" }] }));
    const refused = await sync.write(async () => {
      const l = await store.links.create(link("x0", "lb9", { id: "x" }));
      return { value: l, noun: "link" as const, put: [l], delete: [], undo: () => store.links.delete(l.id, l.revision) };
    });
    expect(refused).toEqual({ ok: false, refused: [{ kind: "link", id: "x", path: ["b"], message: "no interface lb9" }], message: "refused" });
    expect((await store.links.list()).map((l) => l.id)).toEqual([linkId({ a: "la", b: "lb" })]);
  });

  test("a rule's write sends no links", async () => {
    const { sent, store, sync } = setUp();
    await sync.write(async () => {
      const r = await store.create(rule("in0"));
      return { value: r, noun: "rule" as const, put: [r], delete: [], undo: () => store.delete(r.id, r.revision) };
    });
    expect(sent.at(-1)).toEqual({ type: "change", put: [{ id: ruleId(rule("in0")), ...rule("in0") }], delete: [] });
  });

  test("in a fleet: a link is this node's when its node is this one or every one; reconcile sends what changed in the store, once", async () => {
    const { sent, store, sync } = setUp({ links: [link("la", "lb", { node: "n1" }), link("la", "lb", { node: "other" })] });
    await sync.importAndSync();
    // Both are stored (the API stores every node's); the sync carries this node's only.
    expect((await store.links.list()).map((l) => l.node).sort()).toEqual(["n1", "other"]);
    expect((sent.at(-1) as Extract<RequestBody, { type: "sync" }>).links!.map((l) => l.node)).toEqual(["n1"]);
    const mine = (await store.links.list()).find((l) => l.node === "n1")!;
    expect([...sync.applied.link]).toEqual([[mine.id, mine.revision]]);
    // Written as another node's API would: only the store changes; reconcile takes what concerns this node.
    const every = await store.links.create(link("xa", "xb", { id: "every", node: "*" }));
    await store.links.create(link("ya", "yb", { id: "theirs", node: "other" }));
    const before = sent.length;
    await sync.reconcile();
    expect(sent.slice(before)).toEqual([{ type: "change", put: [], delete: [], links: { put: [{ id: "every", a: "xa", b: "xb", node: "*" }], delete: [] } }]);
    expect(sync.applied.link.get("every")).toBe(every.revision);
    await sync.reconcile(); // nothing changed: nothing sent
    expect(sent.length).toBe(before + 1);
    expect(await store.links.delete(mine.id)).toBe(true);
    await sync.reconcile();
    expect(sent.at(-1)).toEqual({ type: "change", put: [], delete: [], links: { put: [], delete: [mine.id] } });
    expect([...sync.applied.link.keys()]).toEqual(["every"]);
  });
});
