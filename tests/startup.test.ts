// Start-up as an operator meets it: a bad rules file is refused with the rule and the field.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { segmentName } from "../shm/segment.ts";
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

describe("start-up with a bad flag or variable: exit 2 within a second, naming it, nothing left", () => {
  /** Runs start in a fresh state dir; returns exit code, output, time, and what is left. */
  function start(args: string[], env: Record<string, string> = {}) {
    const dir = mkdtempSync(join("/tmp", "mcrelay-bad-"));
    chmodSync(dir, 0o755);
    const state = join(dir, "state");
    const t0 = performance.now();
    const r = Bun.spawnSync([BUN, "bin/mcrelay.ts", "start", "--state-dir", state, "--workers", "1", ...args],
      { cwd: ROOT, stderr: "pipe", stdout: "pipe", env: { ...process.env, ...env }, timeout: 20_000 });
    const ms = performance.now() - t0;
    const left = [existsSync(join(state, "status.json")) && "status.json", existsSync(`/dev/shm/${segmentName(state)}`) && "segment",
      existsSync(join(state, "control.sock")) && "control.sock"].filter(Boolean);
    rmSync(dir, { recursive: true, force: true });
    return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString(), ms, left };
  }

  const busy = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  afterAll(() => busy.stop(true));

  const cases: [string, string[], Record<string, string>, string][] = [
    ["a short API token", [], { MCRELAY_API_TOKEN: "short" }, "MCRELAY_API_TOKEN must be at least 16 characters"],
    ["an API token no header can carry", [], { MCRELAY_API_TOKEN: "a token with spaces 0123456789" }, "MCRELAY_API_TOKEN may hold only"],
    ["a DATABASE_URL that is not PostgreSQL", [], { DATABASE_URL: "mysql://db/mcrelay" }, "DATABASE_URL must be a postgres://"],
    ["a DATABASE_URL nobody answers", [], { DATABASE_URL: "postgres://mcrelay@127.0.0.1:1/mcrelay" }, "DATABASE_URL: cannot use the PostgreSQL server"],
    ["an OTLP protocol we do not speak", [], { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, "OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json"],
    ["a log level that does not exist (flag)", ["--log-level", "loud"], {}, "--log-level must be one of"],
    ["a log level that does not exist (variable)", [], { MCRELAY_LOG_LEVEL: "loud" }, "MCRELAY_LOG_LEVEL must be one of"],
    ["a log format that does not exist (flag)", ["--log-format", "xml"], {}, '--log-format must be one of pretty, json, got "xml"'],
    ["a log format that does not exist (variable)", [], { MCRELAY_LOG_FORMAT: "xml" }, "MCRELAY_LOG_FORMAT must be one of pretty, json"],
    ["an API port out of range", ["--api-listen", "127.0.0.1:99999"], {}, "--api-listen port must be 0–65535"],
    ["an API port in use", ["--api-listen", `127.0.0.1:${busy.port}`], {}, `--api-listen 127.0.0.1:${busy.port}: cannot listen there: the port is in use`],
    ["an API address that is neither", ["--api-listen", "somewhere"], {}, "--api-listen must be HOST:PORT or unix:/PATH"],
    ["a user that does not exist", ["--user", "no-such-user-x"], {}, "--user no-such-user-x: user no-such-user-x does not exist"],
    ["a tuning value out of range", [], { MCRELAY_TUNE_TAKE: "0" }, "MCRELAY_TUNE_TAKE must be an integer 1–4096"],
    ["a tuning variable that does not exist", [], { MCRELAY_TUNE_RINGS: "v2" }, "MCRELAY_TUNE_RINGS is not a tuning variable"],
    ["an unknown flag", ["--workerz", "2"], {}, "Unknown option '--workerz'"],
    ["--max-rules 0", ["--max-rules", "0"], {}, "--max-rules must be 1–65536"],
    ["a node name that is not one (flag)", ["--node", "relay b"], {}, '--node "relay b" is not a node name'],
    ["a node name that is not one (variable)", [], { MCRELAY_NODE: "-b" }, "MCRELAY_NODE must be a node name"],
    ["--low-latency with a value that is not a CPU list", ["--low-latency", "fast"], {}, '--low-latency must be auto or a list of CPUs like 3 or 2,3 or 2-5, got "fast"'],
    ["--low-latency on a CPU the relay may not run on", ["--low-latency=4095"], {}, "--low-latency 4095: CPU 4095 is not one this relay may run on"],
    ["--low-latency with fewer CPUs than worker pairs", ["--low-latency", "0", "--workers", "2"], {}, "--low-latency 0: 1 CPU for 2 worker pairs"],
  ];
  for (const [what, args, env, msg] of cases) {
    test(what, () => {
      const r = start(args, env);
      expect(r.out).toContain(msg);
      expect(r.code).toBe(2);
      expect(r.out.trim().split("\n")).toHaveLength(1); // one line, no stack trace
      expect(r.ms).toBeLessThan(1000);
      expect(r.left).toEqual([]);
    });
  }

  test("--help on start and every other command: usage on stdout, exit 0", () => {
    for (const cmd of [["start"], ["rules"], ["apply"], ["export"], ["stats"], ["top"], ["gen"], ["sink"], ["demo"], []]) {
      const r = Bun.spawnSync([BUN, "bin/mcrelay.ts", ...cmd, "--help"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
      expect([cmd.join(" "), r.exitCode]).toEqual([cmd.join(" "), 0]);
      expect(r.stdout.toString()).toContain("usage");
    }
  });
});

describe("the API on its own (as in its own container)", () => {
  test("a bad variable: exit 2 and one line naming it, no restart loop to fall into", () => {
    const dir = mkdtempSync(join("/tmp", "mcrelay-api-bad-"));
    try {
      const t0 = performance.now();
      const r = Bun.spawnSync([BUN, "services/api/main.ts", "--listen", `unix:${join(dir, "http.sock")}`, "--state-dir", dir, "--control", join(dir, "control.sock")],
        { cwd: ROOT, stderr: "pipe", stdout: "pipe", env: { ...process.env, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, timeout: 20_000 });
      expect(r.exitCode).toBe(2);
      expect(r.stderr.toString().trim()).toBe('mcrelay api: OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (grpc is not supported) (got "grpc")');
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
