// What both workers share: the control channel on fd 3, the segment, the logger, the init handshake.
import { inheritedLogFormat, makeLogger } from "./logging.ts";
import { recvMessage, sendMessage } from "../c/unixmsg.ts";
import { closeFd } from "../c/inet.ts";
import { dropPrivileges, setDumpable, setTimerSlack } from "../c/sys.ts";
import { pinCpu, setSchedSlice } from "../c/sched.ts";
import type { ScheduleOptions } from "./schedule.ts";
import { mapSegment, type Segment } from "../shm/segment.ts";
import { CONTROL_FD, type EgressConfigMsg, type FromWorker, type IngressConfigMsg, type IngressInput, type IngressLink, type InitMsg, type ToWorker } from "./protocol/worker.ts";
import { pinnedCpu, readTune } from "./tune.ts";

export function workerLogger(role: string, index: number) {
  return makeLogger({ component: role, worker: index, pid: process.pid }, process.env.MCRELAY_LOG_LEVEL ?? "info", inheritedLogFormat());
}

export function send(msg: FromWorker): void {
  sendMessage(CONTROL_FD, msg);
}

/** Next control message; with nonblock, null when none waits. Exits when the supervisor is gone. */
export function receive(nonblock: boolean): { msg: ToWorker; fds: number[] } | null {
  const r = recvMessage(CONTROL_FD, nonblock);
  if (r === "none") return null;
  if (r === "eof") {
    // Without a supervisor nobody can stop or restart us cleanly: leave at once.
    process.exit(3);
  }
  return { msg: r.body as ToWorker, fds: r.fds };
}

export interface Started {
  init: InitMsg;
  seg: Segment;
}

/**
 * Waits for init, maps the segment it carries, and makes sure the process holds no privilege:
 * the supervisor starts workers unprivileged (setpriv), this is the guard if one was not.
 */
export function startWorker(role: "ingress" | "egress"): Started {
  const first = receive(false)!;
  if (first.msg.type !== "init" || first.msg.role !== role) throw new Error(`expected init for ${role}, got ${first.msg.type}`);
  const init = first.msg;
  const seg = mapSegment(first.fds[0], init.shmSize, true);
  closeFd(first.fds[0]); // the mapping stays; the fd is not needed
  if (process.getuid!() === 0) dropPrivileges(65534, 65534);
  setDumpable(false); // the API and the other workers run as the same user: none may ptrace us
  // Timed sleeps (an ingress's hold, tens of µs) end on time, not up to 50 µs late (the default slack).
  setTimerSlack(1000);
  const tune = readTune();
  if (tune.sliceUs > 0) setSchedSlice(tune.sliceUs * 1000); // an older kernel refuses it: then the default slice
  const cpu = init.busyPoll?.cpu ?? pinnedCpu(tune, role, init.index);
  if (cpu !== null) pinCpu(cpu);
  return { init, seg };
}

/** How the worker is scheduled while quiet (services/schedule.ts): real-time and together with its
 *  partner unless it busy-polls (--low-latency) or the operator pinned it (MCRELAY_TUNE_PIN). */
export function scheduleOptions(init: InitMsg): ScheduleOptions {
  const t = readTune();
  const busy = init.busyPoll != null;
  return { realtime: !busy && t.quiet.realtime, together: !busy && t.pin === "none" && t.quiet.together, sliceNs: t.sliceUs * 1000 };
}

/** A configuration gathered from its parts: fd indices refer to `fds`, the parts' fds in order. */
export interface Gathered<R> {
  version: number;
  inputs: IngressInput[];
  links: IngressLink[];
  sockets: { key: string; fd: number }[];
  put: R[];
  remove: number[];
  fds: number[];
}

/** Collects a configuration's parts (protocol/worker.ts); `add` returns it whole with the last one. */
export class ConfigParts<R> {
  private g: Gathered<R> | null = null;

  add(msg: IngressConfigMsg | EgressConfigMsg, fds: number[]): Gathered<R> | null {
    const g = (this.g ??= { version: msg.version, inputs: [], links: [], sockets: [], put: [], remove: [], fds: [] });
    if (msg.version !== g.version) throw new Error(`config part of version ${msg.version} while gathering ${g.version}`);
    const base = g.fds.length;
    g.fds.push(...fds);
    if ("links" in msg && msg.links) g.links = msg.links;
    if ("inputs" in msg && msg.inputs) g.inputs = msg.inputs.map((i) => (i.fd === undefined ? i : { ...i, fd: base + i.fd }));
    if ("sockets" in msg && msg.sockets) for (const s of msg.sockets) g.sockets.push({ key: s.key, fd: base + s.fd });
    if (msg.put) for (const r of msg.put) g.put.push(r as R);
    if (msg.remove) g.remove.push(...msg.remove);
    if (!msg.last) return null;
    this.g = null;
    return g;
  }
}
