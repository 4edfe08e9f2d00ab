// `start --low-latency [CPUS]`: which CPU each busy-polling worker is pinned to. A busy-polling
// worker never sleeps while traffic flows, so it spends its CPU whole: the relay takes only the
// CPUs it is given (auto: the highest-numbered ones it may use, one per pair, leaving the rest to
// the host). With two CPUs or more per pair each worker has its own; with one, the pair's two
// workers share it and yield it to each other whenever a pass finds nothing.
import { readFileSync } from "node:fs";
import { ConfigError } from "./environment.ts";

/** Per pair, the CPUs its workers busy-poll on. */
export interface PairCpus {
  ingress: number;
  egress: number;
}

/** "0-3,8,10-11" -> [0, 1, 2, 3, 8, 10, 11]; null when it is not a CPU list. */
export function parseCpuList(s: string): number[] | null {
  const out = new Set<number>();
  for (const part of s.split(",")) {
    const m = /^(\d{1,4})(?:-(\d{1,4}))?$/.exec(part.trim());
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return null;
    for (let c = a; c <= b; c++) out.add(c);
  }
  return [...out].sort((x, y) => x - y);
}

/** The CPUs this process may run on (its affinity, as /proc shows it). */
export function allowedCpus(): number[] {
  const line = readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith("Cpus_allowed_list:"));
  return (line && parseCpuList(line.split(":")[1]!.trim())) || [0];
}

/**
 * The value of --low-latency ("auto" or a CPU list) and --workers (undefined: not given) -> the
 * pairs and their CPUs. Without --workers: a pair per two CPUs given (at least one); auto: one.
 */
export function lowLatencyCpus(value: string, workers: number | undefined, allowed: number[]): PairCpus[] {
  let cpus: number[];
  if (value === "auto") {
    const n = workers ?? 1;
    if (n > allowed.length) throw new ConfigError(`--low-latency: ${n} worker pairs need a CPU each, this relay may use ${allowed.length}`);
    cpus = allowed.slice(-n);
  } else {
    const list = parseCpuList(value);
    if (!list) throw new ConfigError(`--low-latency must be auto or a list of CPUs like 3 or 2,3 or 2-5, got "${value}"`);
    const bad = list.filter((c) => !allowed.includes(c));
    if (bad.length) throw new ConfigError(`--low-latency ${value}: CPU ${bad.join(", ")} is not one this relay may run on (${allowed.join(",")})`);
    cpus = list;
  }
  const pairs = workers ?? (value === "auto" ? 1 : Math.max(1, Math.floor(cpus.length / 2)));
  if (cpus.length < pairs) {
    throw new ConfigError(`--low-latency ${value}: ${cpus.length} CPU${cpus.length > 1 ? "s" : ""} for ${pairs} worker pairs: give at least one per pair, or fewer --workers`);
  }
  const own = cpus.length >= 2 * pairs;
  return Array.from({ length: pairs }, (_, i) => (own ? { ingress: cpus[2 * i]!, egress: cpus[2 * i + 1]! } : { ingress: cpus[i]!, egress: cpus[i]! }));
}

/** argv with a bare `--low-latency` given its value: the next argument when it is one, else "auto". */
export function lowLatencyArg(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a !== "--low-latency") out.push(a);
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith("-")) out.push(`--low-latency=${argv[++i]}`);
    else out.push("--low-latency=auto");
  }
  return out;
}
