// Captures of one rule or link, asked for by the API: a capture socket per interface (opened
// here: it needs CAP_NET_RAW), handed to a capture process of the relay user that writes a pcap
// into a FIFO in the API's directory; the API streams it to the client. The workers are not
// involved: the kernel gives each packet socket its own copy, so a capture costs the relay
// nothing when none runs and never touches its rings when one does.
import { chownSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { captureOpen } from "../../c/capture.ts";
import { closeFd } from "../../c/inet.ts";
import { ipv6Key } from "../ingress/match.ts";
import { ipValue } from "../../rules/ip.ts";
import type { CaptureMatch, CaptureQuery, CaptureSource, CaptureSpec } from "../protocol/capture.ts";
import type { PlannedLink } from "./link-plan.ts";
import type { PlannedRule } from "./plan.ts";
import { SERVICES_ROOT as ROOT, unprivileged, type RelayUser } from "./workers.ts";

/** Captures at once: each is a process and a copy of its interfaces' frames. */
export const MAX_CAPTURES = 4;
/** A capture whose FIFO nobody opens, or that outlives its seconds by this much, is ended. */
const GRACE_MS = 5000;

/** An address as parse.ts gives it in F.dst / F.src. */
const addrKey = (s: string): number => {
  const v = ipValue(s);
  return typeof v === "number" ? v >>> 0 : ipv6Key(v, 0);
};

/** What to capture where: an interface, a direction, the frames to keep. */
interface Want {
  ifname: string;
  ifindex: number;
  direction: "received" | "sent";
  matches: CaptureMatch[] | null;
}

export function ruleWants(r: PlannedRule, q: CaptureQuery): Want[] {
  const one: (Omit<Want, "matches"> & { match: CaptureMatch })[] = [];
  if (q.direction !== "sent") {
    // Every input of the rule (a redundant rule's paths: each copy as it arrived).
    for (const i of r.paths?.filter((p) => p.up) ?? [r]) {
      one.push({ ifname: i.ifname, ifindex: i.ifindex, direction: "received", match: { family: i.group.includes(":") ? 6 : 4, dst: addrKey(i.group),
        protocol: r.protocol, ...(i.port ? { dport: i.port } : {}), ...(i.source ? { src: addrKey(i.source) } : {}), vlan: i.vlan } });
    }
  }
  if (q.direction !== "received") {
    for (const o of r.outputs) {
      one.push({ ifname: o.ifname, ifindex: o.ifindex, direction: "sent", match: { family: o.family, dst: addrKey(o.addr), protocol: o.protocol, ...(o.port ? { dport: o.port } : {}) } });
    }
  }
  // One socket per interface and direction, keeping any of its matches.
  const w = new Map<string, Want>();
  for (const { match, ...at } of one) {
    const k = `${at.ifname} ${at.direction}`;
    const got = w.get(k);
    if (got) got.matches!.push(match);
    else w.set(k, { ...at, matches: [match] });
  }
  return [...w.values()];
}

export function linkWants(l: PlannedLink, q: CaptureQuery): Want[] {
  // A link carries every frame: each way's frames arrive at its `from` and leave at its `to`.
  return l.ways.flatMap((way) => [
    ...(q.direction !== "sent" ? [{ ifname: way.from, ifindex: way.fromIfindex, direction: "received" as const, matches: null }] : []),
    ...(q.direction !== "received" ? [{ ifname: way.to, ifindex: way.toIfindex, direction: "sent" as const, matches: null }] : []),
  ]);
}

export class Captures {
  /** FIFO path -> the process of the capture that writes into it */
  private readonly running = new Map<string, Bun.Subprocess>();
  private next = 1;

  constructor(private readonly apiDir: string, private readonly user: RelayUser, private readonly log: (o: object, m: string) => void) {}

  /** Starts a capture; returns the FIFO the API reads, or throws with why it cannot. */
  start(what: string, wants: Want[], q: CaptureQuery): string {
    if (this.running.size >= MAX_CAPTURES) throw new Error(`${MAX_CAPTURES} captures run already; try again when one has ended`);
    if (wants.length === 0) throw new Error(`${what} has nothing to capture ${q.direction} (no output is up)`);
    const dir = join(this.apiDir, "capture");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, this.user.uid, this.user.gid);
    const n = this.next++;
    const fifo = join(dir, `${process.pid}-${n}.pcap`);
    const mk = Bun.spawnSync(["mkfifo", "-m", "0600", fifo], { stderr: "pipe" });
    if (mk.exitCode !== 0) throw new Error(`mkfifo ${fifo}: ${mk.stderr.toString().trim()}`);
    chownSync(fifo, this.user.uid, this.user.gid);
    const fds: number[] = [];
    let proc: Bun.Subprocess;
    try {
      for (const w of wants) fds.push(captureOpen(w.ifindex));
      const sources: CaptureSource[] = wants.map((w, i) => ({ fd: 3 + i, ifname: w.ifname, direction: w.direction, matches: w.matches }));
      const spec: CaptureSpec = { fifo, count: q.count, seconds: q.seconds, sources };
      proc = Bun.spawn(unprivileged(this.user, [process.execPath, join(ROOT, "services/capture/main.ts"), JSON.stringify(spec)]), {
        cwd: ROOT, stdio: ["ignore", "inherit", "inherit", ...fds], env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent" },
      });
    } catch (e) {
      rmSync(fifo, { force: true });
      throw e;
    } finally {
      for (const fd of fds) closeFd(fd); // the capture process has its own copies (or none started)
    }
    this.running.set(fifo, proc);
    const timer = setTimeout(() => proc.kill("SIGKILL"), q.seconds * 1000 + GRACE_MS);
    this.log({ capture: n, what, direction: q.direction, count: q.count, seconds: q.seconds, interfaces: wants.map((w) => `${w.ifname}:${w.direction}`), pid: proc.pid }, "capture started");
    void proc.exited.then((code) => {
      clearTimeout(timer);
      this.running.delete(fifo);
      rmSync(fifo, { force: true });
      this.log({ capture: n, code, signal: proc.signalCode }, "capture ended");
    });
    return fifo;
  }

  /** Ends the capture that writes into fifo (its client left while it waited for packets, when
   *  no write of its own would find that out). Unknown: it has ended already. */
  end(fifo: string): void {
    this.running.get(fifo)?.kill("SIGTERM");
  }

  /** Ends every capture (the relay stops). */
  stop(): void {
    for (const p of this.running.values()) p.kill("SIGKILL");
  }
}
