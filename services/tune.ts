// Tuning knobs, read once at start from MCRELAY_TUNE_* variables (the supervisor hands them to the
// workers). They exist so that bench:levers can measure each lever of docs/PERFORMANCE.md against
// the defaults, which are what measured best on the development machine. A bad value stops start-up.
import { availableParallelism } from "node:os";

export const TUNE_ENV = /^MCRELAY_TUNE_[A-Z_]+$/;

/** The variables readTune knows; any other MCRELAY_TUNE_* is a typo and stops start-up. */
const KNOWN = ["MCRELAY_TUNE_SPIN_US", "MCRELAY_TUNE_TAKE", "MCRELAY_TUNE_URING", "MCRELAY_TUNE_PIN", "MCRELAY_TUNE_NICE", "MCRELAY_TUNE_RING",
  "MCRELAY_TUNE_BLOCK_KIB", "MCRELAY_TUNE_BLOCKS", "MCRELAY_TUNE_QDISC_BYPASS", "MCRELAY_TUNE_HOLD_US", "MCRELAY_TUNE_SLICE_US",
  "MCRELAY_TUNE_QUIET", "MCRELAY_TUNE_SPLIT"];

function intOf(env: Record<string, string | undefined>, name: string, dflt: number, min: number, max: number): number {
  const v = env[name];
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer ${min}–${max}, got "${v}"`);
  return n;
}

function oneOfIn<T extends string>(env: Record<string, string | undefined>, name: string, dflt: T, allowed: readonly T[]): T {
  const v = (env[name] ?? "") || dflt;
  if (!allowed.includes(v as T)) throw new Error(`${name} must be one of ${allowed.join(", ")}, got "${v}"`);
  return v as T;
}

const quietOf = (v: "realtime+together" | "realtime" | "together" | "off") => ({ realtime: v.startsWith("realtime"), together: v.endsWith("together") });

export function readTune(env: Record<string, string | undefined> = process.env) {
  const unknown = Object.keys(env).find((k) => TUNE_ENV.test(k) && !KNOWN.includes(k));
  if (unknown) throw new Error(`${unknown} is not a tuning variable (known: ${KNOWN.join(", ")})`);
  const int = (name: string, dflt: number, min: number, max: number) => intOf(env, name, dflt, min, max);
  const oneOf = <T extends string>(name: string, dflt: T, allowed: readonly T[]) => oneOfIn(env, name, dflt, allowed);
  return {
    /** Idle spin after the last packet before a worker sleeps, µs. 0: on a machine where the relay
     *  shares cores with other work, spinning took CPU the rest needed (docs/PERFORMANCE.md, levers). */
    spinUs: int("MCRELAY_TUNE_SPIN_US", 0, 0, 1_000_000),
    /** Egress: descriptors taken from the ring per turn; each turn ends with one io_uring submit. */
    egressTake: int("MCRELAY_TUNE_TAKE", 256, 1, 4096),
    /** Egress io_uring: plain, SINGLE_ISSUER|DEFER_TASKRUN, registered sockets, or both. */
    uring: oneOf("MCRELAY_TUNE_URING", "plain", ["plain", "defer", "fixed", "defer+fixed"] as const),
    /** CPU pinning of pair i: none; both workers on CPU i; ingress on 2i and egress on 2i+1 (mod CPUs). */
    pin: oneOf("MCRELAY_TUNE_PIN", "none", ["none", "same", "split"] as const),
    /** Scheduling niceness of the workers (-20–19): below 0 they win the CPU from other busy processes. */
    nice: int("MCRELAY_TUNE_NICE", 0, -20, 19),
    /** AF_PACKET ring of rules inputs: 2 (a frame at a time; ingress batches at high rates itself)
     *  or 3 (blocks, handed over full or after 1 ms: the default until the latency work, issue 17). */
    ring: oneOf("MCRELAY_TUNE_RING", "v2", ["v2", "v3"] as const),
    /** AF_PACKET ring of each input: block size (KiB) and block count. */
    blockKiB: int("MCRELAY_TUNE_BLOCK_KIB", 128, 8, 4096),
    blocks: int("MCRELAY_TUNE_BLOCKS", 256, 2, 65536),
    /** Ingress's longest hold (µs) at high rates, reached at 150k frames/s (services/ingress/moderation.ts); 0: never hold. */
    holdUs: int("MCRELAY_TUNE_HOLD_US", 1000, 0, 10_000),
    /** Workers' EEVDF time slice (µs; 0: the kernel's default): shorter wins the CPU sooner on wake-up. */
    sliceUs: int("MCRELAY_TUNE_SLICE_US", 0, 0, 100_000),
    /** A quiet pair (services/schedule.ts): real-time and together on one CPU (the default), only
     *  real-time, only together, or neither (ordinary tasks wherever the scheduler puts them). */
    quiet: quietOf(oneOf("MCRELAY_TUNE_QUIET", "realtime+together", ["realtime+together", "realtime", "together", "off"] as const)),
    /** Raw egress: frames straight to the driver (PACKET_QDISC_BYPASS), past the interface's qdisc. */
    qdiscBypass: oneOf("MCRELAY_TUNE_QDISC_BYPASS", "off", ["off", "on"] as const) === "on",
    /** With two pairs or more: every pair reads every rules input whole, and the outputs of a rule
     *  with SPLIT_MIN_OUTPUTS or more are shared out among the egresses (services/supervisor/configure.ts). */
    split: oneOf("MCRELAY_TUNE_SPLIT", "off", ["off", "on"] as const) === "on",
  };
}

export type Tune = ReturnType<typeof readTune>;

/** The CPU a worker of pair `index` is pinned to, or null. */
export function pinnedCpu(t: Tune, role: "ingress" | "egress", index: number): number | null {
  const n = availableParallelism();
  if (t.pin === "same") return index % n;
  if (t.pin === "split") return (2 * index + (role === "egress" ? 1 : 0)) % n;
  return null;
}
