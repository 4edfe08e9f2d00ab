import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blockedAncestor } from "./reachable.ts";

const nobody = { uid: 65534, gid: 65534 };
const base = mkdtempSync(join(tmpdir(), "mcrelay-reach-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

test("a parent without search permission for the user is named", () => {
  const closed = join(base, "closed");
  mkdirSync(join(closed, "inner"), { recursive: true });
  chmodSync(closed, 0o700);
  chmodSync(base, 0o755);
  expect(blockedAncestor(join(closed, "inner", "state"), nobody)).toEqual({ path: closed, mode: "700", uid: process.getuid!() });
});

test("traversable parents pass, and the directory itself is not judged", () => {
  const open = join(base, "open");
  mkdirSync(open, { mode: 0o711 });
  chmodSync(open, 0o711);
  chmodSync(base, 0o755);
  const state = join(open, "state");
  mkdirSync(state, { mode: 0o700 });
  expect(blockedAncestor(state, nobody)).toBeNull();
});

test("a missing part of the path is not an error (it will be created)", () => {
  chmodSync(base, 0o755);
  expect(blockedAncestor(join(base, "not", "yet", "state"), nobody)).toBeNull();
});
