// Throw-away network namespaces for tests and benches. Every name carries a random id so
// parallel runs never collide, and everything is torn down on exit, signals or destroy().
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface VethEnd {
  ns: string;
  ifname: string;
  addr?: string; // CIDR, e.g. 10.201.1.1/24
  /** an IPv6 address, CIDR (fd00:1::1/64): only in a lab made with { ipv6: true } */
  addr6?: string;
  mtu?: number;
}

export interface LabOptions {
  /** IPv6 on in every namespace (off by default: no link-local addresses, router solicitations
   *  or MLD reports on the links), with duplicate address detection off, so an address is usable
   *  (not tentative) as soon as it is added, and no router solicitations. */
  ipv6?: boolean;
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error("this needs root (network namespaces, veths): run it as root or under sudo");
  }
}

const live = new Set<Lab>();
let hooked = false;

// Cleanup must also happen when the runner is interrupted, or namespaces and veths leak on the host.
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const all = () => {
    for (const lab of [...live]) lab.destroy();
  };
  process.on("exit", all);
  for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
    process.on(sig, () => {
      all();
      process.exit(code);
    });
  }
}

/** Runs cmd to its end (stdin: what it reads, else nothing). */
export function run(cmd: string[], stdin?: string): Run {
  const r = Bun.spawnSync(cmd, { stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Runs cmd; throws, with its stderr, if it fails. */
export function must(cmd: string[], stdin?: string): string {
  const r = run(cmd, stdin);
  if (r.code !== 0) throw new Error(`\`${cmd.join(" ")}\` failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

// Bun reaps children only from its event loop, so a synchronous wait has to look at /proc.
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL for what is still there after graceMs (waits synchronously). */
export function killPids(pids: number[], graceMs: number): void {
  const signal = (sig: NodeJS.Signals, pid: number) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  for (const pid of pids) signal("SIGTERM", pid);
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) Bun.sleepSync(20);
  for (const pid of pids) if (alive(pid)) signal("SIGKILL", pid);
}

export class Lab {
  readonly id: string;
  private readonly namespaces: string[] = [];
  private readonly procs: Bun.Subprocess[] = [];
  private destroyed = false;

  private constructor(id: string, private readonly opts: LabOptions) {
    this.id = id;
  }

  /** tag only makes the id easier to recognise in `ip netns`; keep it short (names are capped). */
  static create(tag = "", opts: LabOptions = {}): Lab {
    requireRoot();
    const rand = Math.floor(Math.random() * 0x10000).toString(16).padStart(4, "0");
    const lab = new Lab(tag.slice(0, 3) + rand, opts);
    live.add(lab);
    hookExit();
    return lab;
  }

  ns(name: string): string {
    const full = `mcr${this.id}-${name}`;
    if (existsSync(`/run/netns/${full}`)) throw new Error(`namespace ${full} already exists`);
    must(["ip", "netns", "add", full]);
    this.namespaces.push(full);
    must(["ip", "-n", full, "link", "set", "lo", "up"]);
    if (this.opts.ipv6) {
      // Set before any veth appears, which takes the defaults: addresses usable at once, no router solicitations.
      for (const k of ["all", "default"]) {
        this.sysctl(full, `net.ipv6.conf.${k}.accept_dad`, "0");
        this.sysctl(full, `net.ipv6.conf.${k}.router_solicitations`, "0");
      }
      return full;
    }
    // Off before any veth appears, so no link-local address or router solicitation is ever sent.
    this.sysctl(full, "net.ipv6.conf.all.disable_ipv6", "1");
    this.sysctl(full, "net.ipv6.conf.default.disable_ipv6", "1");
    return full;
  }

  veth(a: VethEnd, b: VethEnd): void {
    for (const e of [a, b]) {
      if (e.ifname.length > 15) throw new Error(`interface name ${e.ifname} is longer than 15 characters`);
    }
    // Created directly inside the namespaces: the host never sees these names.
    must(["ip", "-n", a.ns, "link", "add", a.ifname, "type", "veth", "peer", "name", b.ifname, "netns", b.ns]);
    for (const e of [a, b]) {
      if (e.addr6 && !this.opts.ipv6) throw new Error(`veth ${e.ifname}: an IPv6 address needs Lab.create(tag, { ipv6: true })`);
      if (!this.opts.ipv6) this.sysctl(e.ns, `net.ipv6.conf.${e.ifname}.disable_ipv6`, "1");
      if (e.mtu) must(["ip", "-n", e.ns, "link", "set", e.ifname, "mtu", String(e.mtu)]);
      if (e.addr) must(["ip", "-n", e.ns, "addr", "add", e.addr, "dev", e.ifname]);
      if (e.addr6) must(["ip", "-n", e.ns, "-6", "addr", "add", e.addr6, "dev", e.ifname, "nodad"]);
      must(["ip", "-n", e.ns, "link", "set", e.ifname, "up"]);
    }
    // Carrier comes up asynchronously; until it does, os.networkInterfaces() omits the interface
    // and multicast joins/sends on it fail.
    const deadline = Date.now() + 5000;
    for (const e of [a, b]) {
      while (!/state UP/.test(must(["ip", "-n", e.ns, "-o", "link", "show", "dev", e.ifname]))) {
        if (Date.now() > deadline) throw new Error(`veth ${e.ifname} in ${e.ns} did not come up`);
        Bun.sleepSync(10);
      }
    }
  }

  sh(ns: string | null, cmd: string[]): Run {
    return run(ns ? ["ip", "netns", "exec", ns, ...cmd] : cmd);
  }

  spawn(ns: string | null, cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Bun.Subprocess<"ignore", "pipe", "pipe"> {
    if (this.destroyed) throw new Error(`lab ${this.id} is already destroyed`);
    const p = Bun.spawn(ns ? ["ip", "netns", "exec", ns, ...cmd] : cmd, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    this.procs.push(p);
    return p;
  }

  sysctl(ns: string, key: string, value: string): void {
    must(["ip", "netns", "exec", ns, "sysctl", "-qw", `${key}=${value}`]);
  }

  /** Turns an interface's offload on or off (lab/offload.ts, inside the namespace). tx off: the
   *  kernel computes the checksums of what its sockets send, so a capture can check them. */
  offload(ns: string, ifname: string, feature: "tx" | "tso" | "gso" | "gro" | "sg", on: boolean): void {
    must(["ip", "netns", "exec", ns, process.execPath, join(import.meta.dir, "offload.ts"), "--interface", ifname, "--feature", feature, ...(on ? [] : ["--off"])]);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    killPids(this.procs.map((p) => p.pid), 3000);
    for (const ns of this.namespaces) {
      // Anything else still running in our namespace was started by us (e.g. a grandchild).
      const pids = run(["ip", "netns", "pids", ns]).stdout.split(/\s+/).filter(Boolean).map(Number);
      if (pids.length) killPids(pids, 1000);
      run(["ip", "netns", "del", ns]);
    }
  }
}
