// The CLI (rules, apply, export, stats) end to end: `bun bin/mcrelay.ts …` as a subprocess
// against a real relay whose API listens on a Unix socket in its state directory.
//   src --veth-- relay --veth-- dst
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { plan, type Identified } from "../cli/plan.ts";
import { leafPaths, valuePaths } from "../rules/forms.ts";
import { ruleSchema } from "../rules/schema.ts";
import { withoutServerFields } from "../services/protocol/rules.ts";
import { Lab } from "../lab/netns.ts";
import { runCli } from "./lib/cli.ts";
import { TestRelay, runGen } from "./lib/relay.ts";

let lab: Lab;
let src: string, rly: string;
let r: TestRelay;
let tmp: string;

beforeAll(async () => {
  lab = Lab.create("cli");
  src = lab.ns("src");
  rly = lab.ns("rly");
  const dst = lab.ns("dst");
  lab.veth({ ns: src, ifname: "eth0", addr: "10.99.1.2/24" }, { ns: rly, ifname: "in0", addr: "192.168.50.1/24" });
  lab.veth({ ns: rly, ifname: "out0", addr: "10.77.0.1/24" }, { ns: dst, ifname: "eth0", addr: "10.77.0.2/24" });
  lab.sh(src, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
  r = await TestRelay.start(lab, rly, { rules: [] });
  await r.apiReady();
  tmp = mkdtempSync(join(tmpdir(), "mcrelay-cli-test-"));
}, 60_000);

afterAll(async () => {
  await r?.stop();
  lab?.destroy();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// Every test starts from an empty rule set.
beforeEach(async () => {
  for (const x of (await r.api("GET", "/api/v1/rules")).body.rules) await r.api("DELETE", `/api/v1/rules/${x.id}`);
});

/** Runs the CLI; conn says how it finds the API (flags: --api unix:… --token …). */
const cli = (args: string[], o: Parameters<typeof runCli>[2] = {}) => runCli(r, args, o);

const rule = (id: string, port: number, extra: object = {}) => ({
  id,
  input: { interface: "in0", group: "239.1.1.1", port },
  outputs: [{ interface: "out0", group: "239.2.2.2", port: port + 1000, ttl: 16, dscp: 0 }],
  ...extra,
});

function file(name: string, content: unknown): string {
  const p = join(tmp, name);
  writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
  return p;
}

/** An $EDITOR: a shell script that edits the file given as $1. */
function editor(name: string, body: string): string {
  const p = file(name, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

const stored = async () => (await r.api("GET", "/api/v1/rules")).body.rules as any[];
/** A stored rule without the fields the API adds: the rule as the user wrote it, defaults filled in. */
const plain = (x: any) => withoutServerFields(x);

describe("rules", () => {
  test("add with flags, ls (also via --state-dir only), show, --json", async () => {
    const add = await cli(["rules", "add", "--in", "in0:239.1.1.1:5000", "--out", "out0:239.2.2.2:6000", "--out", "out0:239.2.2.3:6001",
      "--ttl", "8", "--dscp", "46", "--name", "feed-a", "--id", "feed-a"]);
    expect(add).toMatchObject({ code: 0, stderr: "" });
    expect(add.stdout).toContain("created rule feed-a \"feed-a\": active");
    expect((await r.api("GET", "/api/v1/rules/feed-a")).body.outputs).toEqual([
      { interface: "out0", group: "239.2.2.2", port: 6000, ttl: 8, dscp: 46 },
      { interface: "out0", group: "239.2.2.3", port: 6001, ttl: 8, dscp: 46 },
    ]);

    for (const conn of ["flags", "state-dir"] as const) {
      const ls = await cli(["rules", "ls"], { conn });
      expect({ conn, code: ls.code, stderr: ls.stderr }).toEqual({ conn, code: 0, stderr: "" });
      const lines = ls.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^ID\s+NAME\s+STATE\s+INPUT\s+OUTPUTS$/);
      expect(lines[1]).toMatch(/^feed-a\s+feed-a\s+active\s+in0 239\.1\.1\.1:5000\s+out0 239\.2\.2\.2:6000 ttl 8 dscp 46, out0 239\.2\.2\.3:6001 ttl 8 dscp 46$/);
    }

    const lsJson = await cli(["rules", "ls", "--json"]);
    expect(JSON.parse(lsJson.stdout)).toEqual([expect.objectContaining({ id: "feed-a", state: "active" })]);

    const show = await cli(["rules", "show", "feed-a"]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^id:\s+feed-a$/m);
    expect(show.stdout).toMatch(/^state:\s+active$/m);
    expect(show.stdout).toMatch(/^input:\s+in0 239\.1\.1\.1:5000$/m);
    expect(JSON.parse((await cli(["rules", "show", "feed-a", "--json"])).stdout)).toMatchObject({ id: "feed-a", name: "feed-a", state: "active" });

    const missing = await cli(["rules", "show", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("error: rule nope: no such rule");
  }, 60_000);

  test("ls: a rule waiting for its interface, and why", async () => {
    const add = await cli(["rules", "add", "--in", "nowhere0:239.5.5.5:1", "--out", "out0:239.9.9.9:2", "--id", "lost"]);
    expect(add.stdout).toStartWith("created rule lost: waiting (");
    const ls = await cli(["rules", "ls"]);
    expect(ls.stdout).toMatch(/^lost\s+-\s+waiting\s+nowhere0 239\.5\.5\.5:1\s+out0 239\.9\.9\.9:2 ttl 16 dscp 0\n\nlost: .*nowhere0/m);
  }, 60_000);

  test("add -f FILE, -f - (stdin), a source-specific input", async () => {
    const a = await cli(["rules", "add", "-f", file("one.json", { name: "from-file", ...rule("ff", 5100) })]);
    expect(a.code).toBe(0);
    expect(a.stdout).toContain("created rule ff \"from-file\": active");
    // No id: the API derives it from the input; a `show --json` body (with state etc.) is accepted back.
    const shown = JSON.parse((await cli(["rules", "show", "ff", "--json"])).stdout);
    const { id: _, name: __, ...noId } = { ...shown, input: { interface: "in0", group: "239.1.1.5", port: 5200, source: "10.99.1.2" } };
    const b = await cli(["rules", "add", "-f", "-", "--json"], { stdin: JSON.stringify(noId) });
    expect(b.code).toBe(0);
    const created = JSON.parse(b.stdout);
    const id = created.id; // read first: Bun's toMatchObject writes its asymmetric matchers into the received object
    expect(created).toMatchObject({ id: expect.stringMatching(/^r-[0-9a-f]{12}$/), state: "active", input: { source: "10.99.1.2" } });
    const ls = await cli(["rules", "ls"]);
    expect(ls.stdout).toContain("in0 239.1.1.5:5200 from 10.99.1.2");
    expect((await stored()).map((x) => x.id).sort()).toEqual([id, "ff"].sort());
  }, 60_000);

  test("bad add: the API's field message, exit 1, nothing stored; usage errors exit 2", async () => {
    const bad = await cli(["rules", "add", "--in", "in0:239.1.1.1:5000", "--out", "out0:239.2.2.2:6000", "--ttl", "300"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("error: invalid request\n  outputs[0].ttl: ttl must be 1–255\n");
    expect(await stored()).toEqual([]);

    const clash = file("clash.json", rule("c2", 5000));
    expect((await cli(["rules", "add", "-f", file("c1.json", rule("c1", 5000))])).code).toBe(0);
    const c = await cli(["rules", "add", "-f", clash]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/^error: conflict\n  input: input in0 239\.1\.1\.1:5000 is already used by rule c1\n$/);

    for (const args of [["rules", "add", "--in", "in0:239.1.1.1"], ["rules", "add", "--in", "in0:239.1.1.1:5000"], ["rules", "frob"],
      ["rules", "ls", "--bogus"], ["apply"], ["rules", "add", "-f", clash, "--name", "x"]]) {
      const u = await cli(args);
      expect({ args, code: u.code }).toEqual({ args, code: 2 });
      expect(u.stderr).toContain("usage: mcrelay");
    }
  }, 60_000);

  test("edit: the editor's change is stored; unchanged does nothing; a rejected edit keeps the file", async () => {
    expect((await r.api("POST", "/api/v1/rules", rule("ed", 5000, { name: "ed" }))).status).toBe(201);
    const before = (await r.api("GET", "/api/v1/rules/ed")).body;

    const same = await cli(["rules", "edit", "ed"], { env: { EDITOR: "true" } });
    expect(same).toMatchObject({ code: 0, stdout: "rule ed unchanged: nothing to do\n" });
    expect((await r.api("GET", "/api/v1/rules/ed")).body.updatedAt).toBe(before.updatedAt);

    const port = editor("port.sh", `sed -i 's/"port": 6000/"port": 6100/' "$1"`);
    const ok = await cli(["rules", "edit", "ed"], { env: { EDITOR: port } });
    expect(ok).toMatchObject({ code: 0, stderr: "" });
    expect(ok.stdout).toContain("updated rule ed: active");
    expect((await r.api("GET", "/api/v1/rules/ed")).body.outputs[0].port).toBe(6100);

    // VISUAL wins over EDITOR.
    const ttl = editor("ttl.sh", `sed -i 's/"ttl": 16/"ttl": 300/' "$1"`);
    const rejected = await cli(["rules", "edit", "ed"], { env: { VISUAL: ttl, EDITOR: "true" } });
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toContain("error: invalid request\n  outputs[0].ttl: ttl must be 1–255");
    const kept = /your edit is kept in (\S+\.json)/.exec(rejected.stderr)?.[1];
    expect(kept && existsSync(kept)).toBe(true);
    rmSync(join(kept!, ".."), { recursive: true, force: true });
    expect((await r.api("GET", "/api/v1/rules/ed")).body.outputs[0]).toMatchObject({ port: 6100, ttl: 16 });
  }, 60_000);

  test("rm: one or more ids; an unknown one is reported and the rest still deleted", async () => {
    for (const [id, port] of [["a", 5000], ["b", 5001], ["c", 5002]] as const) await r.api("POST", "/api/v1/rules", rule(id, port));
    const one = await cli(["rules", "rm", "a"]);
    expect(one).toMatchObject({ code: 0, stdout: "deleted rule a\n" });
    const two = await cli(["rules", "rm", "nope", "b", "c"]);
    expect(two.code).toBe(1);
    expect(two.stderr).toBe("error: rule nope: no such rule\n");
    expect(two.stdout).toBe("deleted rule b\ndeleted rule c\n");
    expect(await stored()).toEqual([]);
  }, 60_000);

  test("a wrong token: exit 1, unauthorized, and where the token came from", async () => {
    const res = await cli(["rules", "ls", "--api", `unix:${r.apiSocket}`, "--token", "not-the-token"], { conn: "none" });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("error: unauthorized");
    expect(res.stderr).toContain("token from --token");
    const env = await cli(["rules", "ls"], { conn: "none", env: { MCRELAY_API: `unix:${r.apiSocket}`, MCRELAY_API_TOKEN: "also-wrong-token" } });
    expect(env.code).toBe(1);
    expect(env.stderr).toContain("token from MCRELAY_API_TOKEN");
    // The environment's address with the state directory's token works.
    const mixed = await cli(["rules", "ls", "--state-dir", r.stateDir], { conn: "none", env: { MCRELAY_API: `unix:${r.apiSocket}` } });
    expect(mixed).toMatchObject({ code: 0, stdout: "no rules\n" });
    const none = await cli(["rules", "ls", "--state-dir", tmp], { conn: "none" });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no API address found; tried:\n  --api: not given\n  MCRELAY_API: not set\n");
  }, 60_000);
});

describe("export and apply", () => {
  // A rule that sets every field the schema has (the test below checks it does), away from defaults.
  const everyField = {
    id: "every-field", name: "Every field",
    input: { interface: "in0", group: "239.1.1.1", port: 5003, protocol: "udp", source: "10.99.1.2", vlan: 7 },
    outputs: [{ interface: "out0", group: "239.2.2.3", port: 6003, ttl: 7, dscp: 46, send: "socket", udpChecksum: false },
      { interface: "out0", group: "10.77.0.2", port: 6004, ttl: 9, dscp: "preserve", send: "socket" },
      { interface: "out0", group: "239.2.2.4", port: 6005, ttl: 16, dscp: 0, send: "raw", gso: true }],
    traceSampleRatio: 0.5, node: "*",
    impairment: { loss: 0.01, duplicate: 0.02, delayMs: 1, jitterMs: 1, reorder: 0.01, ratePps: 100000, rateBps: 1e9, seed: 7, stages: ["drop-odd-size"] },
  };
  /** What a rule with `input` cannot have: a redundant rule's inputs and redundancy. */
  const everyRedundantField = {
    id: "every-redundant-field", name: "Every redundant field",
    inputs: [{ interface: "in0", group: "239.1.1.8", port: 5008, protocol: "udp", source: "10.99.1.2", vlan: 8 }, { interface: "in0", group: "239.1.1.9", port: 5008 }],
    redundancy: { mode: "sequence", offset: 8, width: 8, byteOrder: "little", windowMs: 20, windowPackets: 1024, silentMs: 500 },
    outputs: [{ interface: "out0", group: "239.2.2.8", port: 6008, ttl: 16, dscp: 0 }], traceSampleRatio: 0,
  };

  test("every schema field survives export -> apply -> export; apply of an export changes nothing", async () => {
    // The fixture covers the schema: a field added to rules/schema.ts fails here until it is in it.
    expect(leafPaths(ruleSchema).filter((p) => ![...valuePaths(everyField), ...valuePaths(everyRedundantField)].includes(p))).toEqual([]);
    expect((await r.api("POST", "/api/v1/rules", everyField)).status).toBe(201);
    expect((await r.api("POST", "/api/v1/rules", everyRedundantField)).status).toBe(201);
    await r.api("POST", "/api/v1/rules", { input: { interface: "in0", group: "239.1.1.1", port: 5001 }, outputs: [{ interface: "out0", group: "239.2.2.2", port: 7001 }] });
    const exp = await cli(["export"]);
    expect(exp.code).toBe(0);
    const doc = JSON.parse(exp.stdout);
    expect(doc.rules.find((x: { id: string }) => x.id === everyField.id)).toEqual(everyField);
    expect(doc.rules.find((x: { id: string }) => x.id === everyRedundantField.id)).toEqual(everyRedundantField);
    // What export prints is what the API stores, field for field (the server's own fields aside).
    const server = (await stored()).map((x) => Object.fromEntries(Object.entries(x).filter(([k]) => !["revision", "createdAt", "updatedAt", "state", "reason"].includes(k))));
    expect(doc.rules.map((x: unknown) => ruleSchema.parse(x))).toEqual(server);
    const dry = await cli(["apply", "-f", file("export.json", exp.stdout), "--dry-run"]);
    expect(dry).toMatchObject({ code: 0, stdout: "no changes (3 rules up to date)\n" });
    const real = await cli(["apply", "-f", "-"], { stdin: exp.stdout });
    expect(real).toMatchObject({ code: 0, stdout: "no changes (3 rules up to date)\n" });
    expect(JSON.parse((await cli(["export"])).stdout)).toEqual(doc);
  }, 60_000);

  /** A rule as FIELD=VALUE arguments: every leaf it sets, by path (lists as a,b). */
  const assignments = (v: unknown, prefix = ""): string[] =>
    Array.isArray(v) && v.every((x) => typeof x === "object") ? v.flatMap((x, i) => assignments(x, `${prefix}[${i}]`))
      : typeof v === "object" && v !== null && !Array.isArray(v) ? Object.entries(v).flatMap(([k, x]) => assignments(x, prefix ? `${prefix}.${k}` : k))
        : [`${prefix}=${Array.isArray(v) ? v.join(",") : v}`];

  test("rules add FIELD=VALUE reaches every schema field; rules set changes fields one by one", async () => {
    const add = await cli(["rules", "add", ...assignments(everyField)]);
    expect({ code: add.code, stderr: add.stderr }).toEqual({ code: 0, stderr: "" });
    const body = (await r.api("GET", "/api/v1/rules/every-field")).body;
    expect(<unknown>ruleSchema.parse(plain(body))).toEqual(everyField);

    // The flags with per-output fields, impairment and ratio alongside.
    const mixed = await cli(["rules", "add", "--id", "mixed", "--in", "in0:239.1.1.1:5004", "--out", "out0:239.2.2.4:6005", "--out", "out0:239.2.2.5:6006",
      "--dscp", "preserve", "outputs[1].ttl=3", "impairment.loss=0.25", "traceSampleRatio=0.1"]);
    expect(mixed.code).toBe(0);
    expect((await r.api("GET", "/api/v1/rules/mixed")).body).toMatchObject({ traceSampleRatio: 0.1, impairment: { loss: 0.25 },
      outputs: [{ ttl: 16, dscp: "preserve" }, { ttl: 3, dscp: "preserve" }] });

    const set = await cli(["rules", "set", "every-field", "outputs[0].ttl=4", "impairment.loss=0.1", "traceSampleRatio=0.25", "outputs[1].dscp=12", "impairment.seed="]);
    expect({ code: set.code, stderr: set.stderr }).toEqual({ code: 0, stderr: "" });
    expect(set.stdout).toContain("updated rule every-field: ");
    const shown = (await cli(["rules", "show", "every-field"])).stdout;
    expect(shown).toMatch(/^traced:\s+0\.25 of packets$/m);
    expect(shown).toMatch(/^impairment:\s+loss 0\.1, duplicate 0\.02, .*stages drop-odd-size$/m);
    const after = (await r.api("GET", "/api/v1/rules/every-field")).body;
    expect(after.outputs.map((o: any) => [o.ttl, o.dscp])).toEqual([[4, 46], [9, 12], [16, 0]]);
    expect(after.traceSampleRatio).toBe(0.25);
    expect(after.impairment.loss).toBe(0.1);
    expect(after.impairment.seed).toBeUndefined();
    expect(after.name).toBe("Every field"); // what was not named stays

    // A value the API refuses: its field message, exit 1, nothing changed.
    const bad = await cli(["rules", "set", "every-field", "outputs[0].ttl=300"]);
    expect({ code: bad.code, stderr: bad.stderr }).toEqual({ code: 1, stderr: "error: invalid request\n  outputs[0].ttl: ttl must be 1–255\n" });
    expect((await r.api("GET", "/api/v1/rules/every-field")).body.outputs[0].ttl).toBe(4);
    // Paths the schema does not have, and values of the wrong kind: usage errors naming the field.
    for (const [args, msg] of [[["impairment.lossy=1"], "impairment.lossy: a rule has no such field"], [["outputs[0].ttl=high"], 'outputs[0].ttl: "high" is not a number'],
      [["outputs[5].ttl=3"], "outputs[5]: no such entry (there are 3; [3] adds one)"], [["id=other"], "cannot change a rule's id"]] as const) {
      const u = await cli(["rules", "set", "every-field", ...args]);
      expect({ args, code: u.code }).toEqual({ args, code: 2 });
      expect(u.stderr).toContain(msg);
    }
    const missing = await cli(["rules", "set", "nope", "traceSampleRatio=1"]);
    expect({ code: missing.code, stderr: missing.stderr }).toEqual({ code: 1, stderr: "error: rule nope: no such rule\n" });
  }, 60_000);

  test("a file that changes only a rule's impairment is an update, and apply stores it", async () => {
    expect((await r.api("POST", "/api/v1/rules", rule("imp", 5000))).status).toBe(201);
    const f = file("impairment.json", { rules: [rule("imp", 5000, { impairment: { loss: 0.5, seed: 3 } })] });
    const dry = await cli(["apply", "-f", f, "--dry-run"]);
    expect(dry.stdout).toBe('~ update imp\n    impairment: (none) -> {"loss":0.5,"seed":3}\n0 to create, 1 to update, 0 to delete, 0 unchanged\n');
    expect((await cli(["apply", "-f", f])).code).toBe(0);
    expect((await stored())[0].impairment).toEqual({ loss: 0.5, seed: 3 });
    expect((await cli(["apply", "-f", f])).stdout).toBe("no changes (1 rule up to date)\n");
  }, 60_000);

  test("add one, change one, delete one: the dry run lists exactly those, apply makes the API equal the file", async () => {
    for (const x of [rule("keep", 5000), rule("change", 5001), rule("drop", 5002)]) expect((await r.api("POST", "/api/v1/rules", x)).status).toBe(201);
    const before = JSON.stringify(await stored());
    // The new rule (no id: derived from its input) takes the input of the one deleted: the
    // deletion has to come first.
    const newRule = { name: "new", input: { interface: "in0", group: "239.1.1.1", port: 5002 }, outputs: [{ interface: "out0", group: "239.2.2.9", port: 7000 }] };
    const want = { rules: [rule("keep", 5000), rule("change", 5001, { outputs: [{ interface: "out0", group: "239.2.2.2", port: 6100, ttl: 4 }] }), newRule] };
    const f = file("desired.json", want);

    const dry = await cli(["apply", "-f", f, "--dry-run"]);
    expect(dry.code).toBe(0);
    const lines = dry.stdout.trimEnd().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/^\+ create r-[0-9a-f]{12} "new": in0 239\.1\.1\.1:5002 -> out0 239\.2\.2\.9:7000 ttl 16 dscp 0$/),
      "~ update change",
      "    outputs[0].port: 6001 -> 6100",
      "    outputs[0].ttl: 16 -> 4",
      "- delete drop: in0 239.1.1.1:5002",
      "1 to create, 1 to update, 1 to delete, 1 unchanged",
    ]);
    expect(JSON.stringify(await stored())).toBe(before);

    const json = JSON.parse((await cli(["apply", "-f", f, "--dry-run", "--json"])).stdout);
    expect(json.changes.map((c: any) => `${c.op} ${c.id}`)).toEqual([expect.stringMatching(/^create r-/), "update change", "delete drop"]);
    expect(json).toMatchObject({ dryRun: true, unchanged: ["keep"], kept: [], applied: 0 });

    const noPrune = await cli(["apply", "-f", f, "--dry-run", "--no-prune"]);
    expect(noPrune.code).toBe(1); // "new" would clash on input with "drop", which --no-prune keeps
    expect(noPrune.stderr).toContain("same input in0 239.1.1.1:5002 as rule drop on the server");

    const res = await cli(["apply", "-f", f]);
    expect(res.code).toBe(0);
    expect(res.stdout).toEndWith("applied: 1 created, 1 updated, 1 deleted\n");
    const after = await stored();
    expect(after.map((x) => x.state)).toEqual(["active", "active", "active"]);
    const expected: any[] = [rule("keep", 5000), { ...want.rules[1], outputs: [{ interface: "out0", group: "239.2.2.2", port: 6100, ttl: 4, dscp: 0 }] },
      { id: json.changes[0].id, ...newRule, outputs: [{ ...newRule.outputs[0], ttl: 16, dscp: 0 }] }].map((x) => ({ ...x, traceSampleRatio: 0 }));
    const byId = (a: any, b: any) => a.id.localeCompare(b.id);
    expect(after.map(plain).sort(byId)).toEqual(expected.sort(byId));
    expect(r.status().rules.map((x) => x.id).sort()).toEqual(expected.map((x) => x.id).sort());

    // Applying it again: nothing left to do; --no-prune keeps rules the file does not name.
    expect((await cli(["apply", "-f", f])).stdout).toBe("no changes (3 rules up to date)\n");
    const partial = await cli(["apply", "-f", file("partial.json", { rules: [rule("keep", 5000)] }), "--no-prune"]);
    expect(partial.stdout).toContain("kept (not in the file; --prune would delete): ");
    expect(await stored()).toHaveLength(3);
  }, 60_000);

  test("an invalid file is rejected before the API is asked, naming rule and field", async () => {
    const bad = file("bad.json", { rules: [rule("ok", 5000), rule("broken", 5001, { name: "broken", outputs: [{ interface: "out0", group: "239.2.2.2", port: 6000, ttl: 300 }] })] });
    const res = await cli(["apply", "-f", bad]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`rule 1 "broken" field outputs[0].ttl: ttl must be 1–255`);
    const dup = await cli(["apply", "-f", file("dup.json", { rules: [rule("x", 5000), rule("y", 5000)] })]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain("rule 1 field input: same input as rule 0");
    expect((await cli(["apply", "-f", file("notjson.json", "{")])).stderr).toContain("is not valid JSON");
    expect(await stored()).toEqual([]);
  }, 60_000);
});

describe("stats", () => {
  test("per rule and worker, from the API and from shared memory", async () => {
    await r.api("POST", "/api/v1/rules", rule("feed", 5000, { name: "feed" }));
    await r.api("POST", "/api/v1/rules", rule("idle", 5001));
    await runGen(lab, src, ["--group", "239.1.1.1", "--port", "5000", "--interface", "eth0", "--rate", "1000", "--size", "200", "--count", "300"]);
    const deadline = Date.now() + 5000;
    while (r.stats().rules.find((x) => x.id === "feed")!.txPackets < 300 && Date.now() < deadline) await Bun.sleep(50);

    const res = await cli(["stats"]);
    expect(res).toMatchObject({ code: 0, stderr: "" });
    const lines = res.stdout.split("\n");
    expect(lines[0]).toMatch(/^NAME\/ID\s+STATE\s+RX PKTS\s+TX PKTS\s+TX BYTES\s+RX PPS\s+TX PPS\s+DROPS$/);
    expect(lines.find((l) => l.startsWith("feed "))).toMatch(/^feed\s+active\s+300\s+300\s+\d+\s+\d+\s+\d+\s+0$/);
    expect(lines.find((l) => l.startsWith("idle "))).toMatch(/^idle\s+active\s+0\s+0\s+0\s+0\s+0\s+0$/);
    expect(res.stdout).toMatch(/^WORKER\s+RX PPS\s+TX PPS/m);
    expect(res.stdout).toMatch(/^0\s+\d+/m);

    const json = JSON.parse((await cli(["stats", "--json"])).stdout);
    expect(json.source).toBe("api");
    expect(json.rules.find((x: any) => x.id === "feed")).toMatchObject({ rxPackets: 300, txPackets: 300 });
    expect(json.workers).toHaveLength(1);

    // The API gone (here: a socket nobody listens on), the relay still there: shared memory.
    const shm = await cli(["stats", "--api", "unix:/nonexistent/mcrelay.sock", "--token", "x", "--state-dir", r.stateDir], { conn: "none" });
    expect(shm.code).toBe(0);
    expect(shm.stdout).toStartWith("(read from shared memory)\n");
    expect(shm.stdout).toMatch(/^feed\s+active\s+300\s+300\s/m);
    const shmJson = JSON.parse((await cli(["stats", "--json", "--api", "unix:/nonexistent/mcrelay.sock", "--token", "x", "--state-dir", r.stateDir], { conn: "none" })).stdout);
    expect(shmJson).toMatchObject({ source: "shm", rules: expect.arrayContaining([expect.objectContaining({ id: "feed", rxPackets: 300 })]) });
  }, 60_000);
});

describe("apply's plan (no relay)", () => {
  const R = (id: string, port: number, name?: string): Identified => ({ id, ...(name ? { name } : {}), input: { interface: "in0", group: "239.1.1.1", port },
    outputs: [{ interface: "out0", group: "239.2.2.2", port: 9000, ttl: 16, dscp: 0 }] });

  test("writes before deletions, unless a write needs what a deletion frees", () => {
    const p = plan({ rules: [R("a", 1), R("n", 3)] }, { rules: [R("a", 1), R("old", 2), R("gone", 4)] }, true);
    expect(p.steps.map((s) => `${s.action} ${s.id}`)).toEqual(["create n", "delete old", "delete gone"]);
    const q = plan({ rules: [R("n", 2)] }, { rules: [R("old", 2)] }, true);
    expect(q.steps.map((s) => `${s.action} ${s.id}`)).toEqual(["delete old", "create n"]);
    const byName = plan({ rules: [R("n", 5, "feed")] }, { rules: [R("old", 2, "feed")] }, true);
    expect(byName.steps.map((s) => `${s.action} ${s.id}`)).toEqual(["delete old", "create n"]);
  });

  test("a chain of updates in the right order; a swap is broken by delete and create", () => {
    const chain = plan({ rules: [R("a", 2), R("b", 3)] }, { rules: [R("a", 1), R("b", 2)] }, true);
    expect(chain.steps.map((s) => `${s.action} ${s.id}`)).toEqual(["put b", "put a"]);
    const swap = plan({ rules: [R("a", 2), R("b", 1)] }, { rules: [R("a", 1), R("b", 2)] }, true);
    expect(swap.steps.map((s) => `${s.action} ${s.id}`)).toEqual(["delete b", "put a", "create b"]);
    expect(swap.changes.map((c) => c.op)).toEqual(["update", "update"]);
  });
});
