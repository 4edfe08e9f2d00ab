// Start-up as an operator meets it: a bad rules file is refused with the rule and the field.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, ROOT } from "./lib/relay.ts";

function startWith(config: string): { code: number; stderr: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "mcrelay-cfg-"));
  const file = join(dir, "rules.json");
  writeFileSync(file, config);
  const r = Bun.spawnSync([BUN, "bin/mcrelay.ts", "start", "--config", file, "--state-dir", join(dir, "state"), "--workers", "1"], { cwd: ROOT, stderr: "pipe", stdout: "pipe" });
  rmSync(dir, { recursive: true, force: true });
  return { code: r.exitCode ?? -1, stderr: r.stderr.toString(), dir };
}

const rule = (o: object) => JSON.stringify({ rules: [{ name: "feed", input: { interface: "eth0", group: "239.1.1.1", port: 5000 },
  outputs: [{ interface: "eth1", group: "239.2.2.2", port: 6000, ...o }] }] });

describe("start-up with a bad rules file", () => {
  test("ttl out of range: exit 2, rule and field named, nothing started", () => {
    const r = startWith(rule({ ttl: 300 }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('rule 0 "feed" field outputs[0].ttl: ttl must be 1–255');
  });
  test("unknown key is named", () => {
    const r = startWith(rule({ tll: 3 }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('rule 0 "feed" field outputs[0]: unknown key "tll"');
  });
  test("malformed JSON names the file", () => {
    const r = startWith("{ rules: ");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/rules\.json is not valid JSON/);
  });
  test("--workers must be a positive number", () => {
    const r = Bun.spawnSync([BUN, "bin/mcrelay.ts", "start", "--workers", "zero"], { cwd: ROOT, stderr: "pipe" });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toContain("--workers must be 1–64");
  });
});

describe("start-up with a state directory the API cannot reach", () => {
  test("a root-only parent stops start-up with the directory named, instead of an API crash loop", () => {
    const dir = mkdtempSync(join(tmpdir(), "mcrelay-closed-")); // mode 0700, owner root
    try {
      const r = Bun.spawnSync([BUN, "bin/mcrelay.ts", "start", "--state-dir", join(dir, "state"), "--workers", "1", "--api-listen", "127.0.0.1:0"],
        { cwd: ROOT, stderr: "pipe", stdout: "pipe", timeout: 30_000 });
      const out = r.stdout.toString() + r.stderr.toString();
      expect(r.exitCode).toBe(2);
      expect(out).toContain(`${dir} (mode 700, owner uid 0) is not searchable by mcrelay`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
