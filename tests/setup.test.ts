// What `make start` and `make test` install (scripts/setup.sh): running needs the relay's own
// packages (nftables for `mcrelay shape`'s NAT); PostgreSQL, Chromium, promtool, systemd-nspawn,
// ping, iptables and tcpdump come only with the tests.
import { describe, expect, test } from "bun:test";
import { ROOT } from "./lib/relay.ts";

const run = (cmd: string[]) => {
  const r = Bun.spawnSync(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() };
};
const packages = (out: string) => /^debian: (.*)$/m.exec(out)![1].split(" ");
const TEST_ONLY = ["postgresql", "chromium", "prometheus", "systemd", "systemd-container", "iputils-ping", "iptables", "tcpdump"];

describe("set-up", () => {
  test("make start sets up what running needs, make test adds what tests need", () => {
    expect(run(["make", "-n", "start"]).out).toMatch(/^bash scripts\/setup\.sh$/m);
    expect(run(["make", "-n", "install"]).out).toMatch(/^bash scripts\/setup\.sh$/m);
    expect(run(["make", "-n", "test"]).out).toMatch(/^bash scripts\/setup\.sh --test$/m);

    const runtime = run(["bash", "scripts/setup.sh", "--list"]);
    expect(runtime.code).toBe(0);
    expect(packages(runtime.out)).toEqual(["liburing-dev", "libc6-dev", "util-linux", "iproute2", "nftables"]);
    expect(runtime.out).toContain("npm: runtime dependencies (--omit=dev)");

    const testing = run(["bash", "scripts/setup.sh", "--test", "--list"]);
    expect(packages(testing.out)).toEqual([...packages(runtime.out), ...TEST_ONLY]);
    expect(testing.out).toContain("npm: all dependencies");
  });

  test("a wrong option is named", () => {
    const r = Bun.spawnSync(["bash", "scripts/setup.sh", "--tset"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toContain('setup: unknown option "--tset"');
  });
});
