import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseShape } from "./options.ts";

const parse = (argv: string[], env: Record<string, string> = {}) => parseShape(argv, env);

test("each flag sets its field in both directions, each the flag's value", () => {
  const o = parse(["--loss", "5%", "--delay", "50", "--jitter", "2.5", "--rate", "10M", "--", "ping", "-c", "1", "--", "x"])!;
  const each = { loss: 0.05, delayMs: 50, jitterMs: 2.5, rateBps: 10e6 };
  expect(o.link).toEqual({ name: "shape", aToB: each, bToA: each });
  expect(o.command).toEqual(["ping", "-c", "1", "--", "x"]); // everything after the first -- is COMMAND's
  expect(o.user).toBeNull();
});

test("--link-config gives the link; its errors name the field; a and b are shape's", () => {
  const dir = tmpdir();
  const file = (name: string, body: unknown) => {
    const p = join(dir, `shape-opt-${process.pid}-${name}.json`);
    writeFileSync(p, JSON.stringify(body));
    return p;
  };
  const good = file("good", { aToB: { loss: 0.2, seed: 7 }, flows: [{ name: "dns", match: { protocol: "udp", ports: "53" }, bToA: { delayMs: 100 } }] });
  expect(parse(["--link-config", good, "--", "true"])!.link).toEqual({ aToB: { loss: 0.2, seed: 7 }, flows: [{ name: "dns", match: { protocol: "udp", ports: "53" }, bToA: { delayMs: 100 } }] });
  expect(() => parse(["--link-config", file("bad", { bToA: { delayMs: -1 } }), "--", "true"])).toThrow(/bToA\.delayMs: delayMs must be 0–10000/);
  expect(() => parse(["--link-config", file("ends", { a: "eth1", aToB: {} }), "--", "true"])).toThrow(/field a: leave "a" and "b" out/);
  expect(() => parse(["--link-config", good, "--delay", "5", "--", "true"])).toThrow(/cannot be combined with --delay/);
});

test.each([
  [["--delay", "abc", "--", "true"], {}, /^--delay must be a number of milliseconds, got "abc"$/],
  [["--loss", "1.5", "--", "true"], {}, /^--loss 1.5: loss must be 0–1$/],
  [["--rate", "0", "--", "true"], {}, /^--rate 0: rateBps must be positive$/],
  [["--jitter", "1e9", "--", "true"], {}, /^--jitter 1e9: jitterMs must be 0–10000$/],
  [["--bogus", "--", "true"], {}, /^Unknown option '--bogus'$/],
  [["--delay", "5", "ping"], {}, /COMMAND goes after --/],
  [["--delay", "5", "--"], {}, /^no COMMAND/],
  [["--", "true"], { MCRELAY_SHAPE_NAT: "pf" }, /^MCRELAY_SHAPE_NAT must be nft or iptables/],
  [["--", "true"], { SUDO_UID: "1000" }, /^SUDO_GID must be a group id/],
  [["--", "true"], { MCRELAY_TUNE_RING: "v9" }, /MCRELAY_TUNE_RING/],
] as const)("%j %j is refused", (argv, env, message) => {
  expect(() => parse([...argv], env)).toThrow(message);
});

test("under sudo COMMAND runs as the caller; SUDO_UID 0 is root", () => {
  expect(parse(["--", "id"], { SUDO_UID: "1000", SUDO_GID: "1001" })!.user).toEqual({ uid: 1000, gid: 1001 });
  expect(parse(["--", "id"], { SUDO_UID: "0", SUDO_GID: "0" })!.user).toBeNull();
});
