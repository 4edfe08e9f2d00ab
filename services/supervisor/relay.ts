// The supervisor: owns the segment and every socket, runs the workers, applies the rules.
import { chmodSync, chownSync, existsSync, fchownSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import pino from "pino";
import { closeFd } from "../../c/inet.ts";
import { netlinkOpen, netlinkRead } from "../../c/netlink.ts";
import { readLinks } from "./links.ts";
import { configSchema, type Config, type Impairment, type Rule } from "../../rules/schema.ts";
import { loadConfigFile, ruleId } from "../../rules/load.ts";
import { createSegment, openSegment, removeSegment, segmentName, type Segment } from "../../shm/segment.ts";
import { resetRing, ringHeadAddr } from "../../shm/ring.ts";
import { futexWake } from "../../c/sys.ts";
import { BEST_EFFORT, classOf } from "../../shm/classes.ts";
import { EGRESS_COUNTERS, INGRESS_COUNTERS } from "../../shm/layout.ts";
import type { IngressInput } from "../protocol/worker.ts";
import { makePlan, RuleNumbers, type Plan, type PlannedRule } from "./plan.ts";
import { GEOMETRY, InputSockets, openEgress } from "./sockets.ts";
import { statusPath, writeStatus, type Status } from "../protocol/status.ts";
import { lookupUser, WorkerHandle, type RelayUser } from "./workers.ts";
import type { Reply, Request } from "../protocol/control.ts";
import { serveControl } from "./control-socket.ts";
import { listInterfaces } from "./interfaces.ts";
import { ApiProcess } from "./api-process.ts";
import { blockedAncestor } from "./reachable.ts";

export interface RelayOptions {
  config: Config;
  workers: number;
  stateDir: string;
  user: string;
  logLevel: string;
  maxRules: number;
  /** HOST:PORT for the REST API, or null to run without it */
  apiListen: string | null;
  /** an API runs elsewhere (its own container) and manages the rules through the control socket */
  externalApi?: boolean;
  /** the --config file, re-read on SIGHUP */
  configPath?: string;
}

const ANSWER_MS = 10_000;
/** A worker whose heartbeat in shared memory is older than this is hung and replaced. */
const HUNG_MS = 3000;
const HEARTBEAT = { ingress: INGRESS_COUNTERS.indexOf("heartbeatMs"), egress: EGRESS_COUNTERS.indexOf("heartbeatMs") };

interface Pair {
  index: number;
  ingress: WorkerHandle;
  egress: WorkerHandle;
  /** exit times of recent crashes, per role, for back-off */
  crashes: { ingress: number[]; egress: number[] };
  restarts: number;
  /** egress socket keys this pair's egress already holds */
  sockets: Set<string>;
  /** input interfaces this pair's ingress already has a socket for */
  inputs: Set<string>;
}

/** A rule's packets are of the highest class among its outputs; -1 when one copies the input's DSCP. */
function ruleClass(r: PlannedRule): number {
  if (r.outputs.some((o) => o.preserve)) return -1;
  return Math.max(BEST_EFFORT, ...r.outputs.map((o) => classOf(o.dscp)));
}

/** A killed process stays in /proc as a zombie until its parent reaps it: that is not alive. */
function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

export class Relay {
  readonly log: pino.Logger;
  private seg!: Segment;
  private pairs: Pair[] = [];
  private inputs = new Map<string, InputSockets>();
  private numbers: RuleNumbers;
  private plan: Plan = { rules: [], inputs: new Map() };
  private version = 0;
  private state: Status["state"] = "starting";
  private stopping: Promise<number> | null = null;
  private rescan: Timer | null = null;
  private watchdog: Timer | null = null;
  private netlink: Timer | null = null;
  private netlinkFd = -1;
  private applying = Promise.resolve();
  private readonly stateDir: string;
  /** the desired rules: the file's at start, then whatever the API sends */
  private rules: Rule[];
  /** the file's rules, handed to the API once to import into its store */
  private fileRules: Rule[] | null;
  private user!: RelayUser;
  private control: { stop(): void } | null = null;
  private api: ApiProcess | null = null;

  constructor(private readonly opts: RelayOptions) {
    this.log = pino({ base: { component: "supervisor", pid: process.pid }, level: opts.logLevel });
    this.stateDir = resolve(opts.stateDir);
    this.numbers = new RuleNumbers(opts.maxRules);
    this.rules = opts.config.rules;
    this.fileRules = opts.config.rules;
  }

  async start(): Promise<void> {
    const user = (this.user = lookupUser(this.opts.user));
    const blocked = this.opts.apiListen ? blockedAncestor(this.stateDir, user) : null;
    if (blocked) {
      throw new Error(`--state-dir ${this.stateDir}: the API runs as ${user.name} and cannot reach it: ${blocked.path} ` +
        `(mode ${blocked.mode}, owner uid ${blocked.uid}) is not searchable by ${user.name}. Use a state directory ` +
        `whose parents ${user.name} can pass through (the default /var/lib/mcrelay), or chmod o+x ${blocked.path}`);
    }
    this.claimStateDir();
    const name = segmentName(this.stateDir);
    this.seg = createSegment(name, {
      workers: this.opts.workers, maxRules: this.opts.maxRules,
      slots: this.opts.config.pool.slots, jumboSlots: this.opts.config.pool.jumboSlots,
    });
    // Readable by the relay user, so the unprivileged API reads counters without asking us.
    fchownSync(this.seg.fd, user.uid, user.gid);
    this.log.info({ shm: `/dev/shm/${name}`, bytes: this.seg.layout.size, workers: this.opts.workers }, "segment created");
    for (let i = 0; i < this.opts.workers; i++) {
      const pair = { index: i, crashes: { ingress: [], egress: [] }, restarts: 0, sockets: new Set(), inputs: new Set() } as unknown as Pair;
      pair.ingress = this.spawn(pair, "ingress");
      pair.egress = this.spawn(pair, "egress");
      this.pairs.push(pair);
    }
    for (const p of this.pairs) for (const w of [p.ingress, p.egress]) await w.expect("ready", ANSWER_MS);
    await this.apply();
    const sock = join(this.stateDir, "control.sock");
    this.control = serveControl(sock, user, (req) => this.handle(req), (e) => this.log.error({ err: String(e) }, "control request failed"));
    if (this.opts.apiListen) {
      const apiDir = join(this.stateDir, "api");
      mkdirSync(apiDir, { recursive: true, mode: 0o700 });
      chownSync(apiDir, user.uid, user.gid);
      this.api = new ApiProcess({ user, listen: this.opts.apiListen, stateDir: apiDir, control: sock, logLevel: this.opts.logLevel, log: this.log });
      this.api.start();
    }
    this.state = "ready";
    this.writeStatus();
    this.log.info({ rules: this.plan.rules.length, active: this.plan.rules.filter((r) => r.state === "active").length }, "relay ready");
    this.watchLinks();
    this.watchdog = setInterval(() => this.checkHeartbeats(), 500);
  }

  /** Requests from the API over the control socket. */
  private async handle(req: Request): Promise<Reply> {
    switch (req.type) {
      case "hello":
        return { ok: true, type: "hello", fileRules: this.fileRules ?? [], shm: this.seg.name };
      case "imported":
        this.fileRules = null; // imported once: later API restarts must not revert API edits
        return { ok: true, type: "done" };
      case "apply": {
        const version = await this.setRules(req.rules);
        return { ok: true, type: "applied", version, status: this.statusObject() };
      }
      case "status":
        return { ok: true, type: "status", status: this.statusObject() };
      case "interfaces":
        return { ok: true, type: "interfaces", interfaces: listInterfaces(this.plan) };
      case "log-level":
        this.log.level = req.level;
        for (const p of this.pairs) for (const w of [p.ingress, p.egress]) if (w.alive) w.send({ type: "log-level", level: req.level });
        return { ok: true, type: "done" };
    }
  }

  /**
   * SIGHUP: re-read the rules file. Without the API the file is the desired state; with it, the
   * file's rules are upserted (by id, else name) and the API imports them into its store, so rules
   * made through the API stay. Unchanged rules are not touched. A bad file changes nothing.
   */
  async reload(): Promise<void> {
    if (!this.opts.configPath) return this.log.warn({}, "SIGHUP: no --config file to reload");
    let cfg: Config;
    try {
      cfg = loadConfigFile(this.opts.configPath);
    } catch (e) {
      return this.log.error({ err: (e as Error).message }, "SIGHUP: rules file rejected; keeping the rules in force");
    }
    if (cfg.pool.slots !== this.opts.config.pool.slots || cfg.pool.jumboSlots !== this.opts.config.pool.jumboSlots) {
      this.log.warn({}, "SIGHUP: pool sizes change only at start; ignored");
    }
    let next = cfg.rules;
    if (this.api || this.opts.externalApi) {
      next = [...this.rules];
      for (const r of cfg.rules) {
        const i = next.findIndex((x) => ruleId(x) === ruleId(r) || (r.name !== undefined && x.name === r.name));
        if (i >= 0) next[i] = { ...r, id: r.id ?? ruleId(next[i]) };
        else next.push(r);
      }
      this.fileRules = cfg.rules; // the API picks them up on its next status poll
    }
    this.log.info({ rules: cfg.rules.length }, "SIGHUP: rules file reloaded");
    await this.setRules(next);
  }

  /** Makes rules the desired set and resolves once it is applied (validated again: trust no peer). */
  async setRules(rules: Rule[]): Promise<number> {
    this.rules = configSchema.parse({ rules }).rules;
    await this.queueApply();
    return this.version;
  }

  private claimStateDir(): void {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o755 });
    // The unprivileged API keeps its files in <state-dir>/api: it must be able to pass through.
    const mode = statSync(this.stateDir).mode & 0o777;
    if ((mode & 0o001) === 0) {
      chmodSync(this.stateDir, mode | 0o011);
      this.log.info({ stateDir: this.stateDir, mode: (mode | 0o011).toString(8) }, "state directory made traversable for the relay user");
    }
    const pidFile = join(this.stateDir, "supervisor.pid");
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, "utf8"));
      if (pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new Error(`another relay (pid ${pid}) uses the state directory ${this.stateDir}`);
      }
    }
    // A predecessor that was killed leaves its segment behind; its header names its supervisor.
    const name = segmentName(this.stateDir);
    if (existsSync(`/dev/shm/${name}`)) {
      let owner = 0;
      try {
        owner = openSegment(name).layout.supervisorPid;
      } catch {
        // unreadable or half-written: not a live relay's
      }
      if (owner > 0 && owner !== process.pid && processAlive(owner)) throw new Error(`another relay (pid ${owner}) uses the state directory ${this.stateDir}`);
      this.log.warn({ shm: name, owner }, "removing the segment a dead relay left behind");
      removeSegment(name);
    }
    writeFileSync(pidFile, String(process.pid) + "\n");
    // A killed predecessor's status.json would claim "ready": replace it before anything else.
    writeStatus(this.stateDir, { state: "starting", pid: process.pid, shm: "", workers: [], rules: [], api: null, updatedAt: new Date().toISOString() });
  }

  /**
   * Link and address events (rtnetlink) trigger a re-plan: interfaces that appear start their
   * waiting rules, links that go down take their rules down, an address change rebinds egress.
   * The socket is drained every 50 ms; a full re-check every 5 s covers lost events.
   */
  private watchLinks(): void {
    this.netlinkFd = netlinkOpen();
    let pending: Timer | null = null;
    this.netlink = setInterval(() => {
      const ev = netlinkRead(this.netlinkFd);
      if (ev !== "overrun" && ev.length === 0) return;
      if (ev !== "overrun") for (const e of ev) this.log.debug(e, "link event");
      pending ??= setTimeout(() => {
        pending = null;
        this.applyIfInterfacesChanged();
      }, 20);
    }, 50);
    this.rescan = setInterval(() => this.applyIfInterfacesChanged(), 5000);
  }

  private applyIfInterfacesChanged(): void {
    if (this.stopping) return;
    const next = makePlan(this.rules, this.numbers, readLinks());
    const sig = (p: Plan) => JSON.stringify([p.rules.map((r) => [r.id, r.state, r.ifindex, r.outputs.map((o) => o.key)]), [...p.inputs]]);
    if (sig(next) !== sig(this.plan)) {
      for (const r of next.rules) {
        const was = this.plan.rules.find((x) => x.id === r.id);
        if (was && (was.state !== r.state || was.reason !== r.reason)) this.log.warn({ rule: r.id, state: r.state, reason: r.reason }, "rule state changed");
      }
      this.queueApply();
    }
  }

  /** Applies run one at a time, in order; the promise resolves when this one has run. */
  private queueApply(): Promise<void> {
    this.applying = this.applying.then(() => this.apply()).catch((e) => this.log.error({ err: String(e) }, "applying rules failed"));
    return this.applying;
  }

  /**
   * Three steps so no packet meets a worker that lacks its rule: egress learns new rules first
   * (keeping the old), then ingress switches to the new table, then egress forgets deleted ones.
   */
  private async apply(): Promise<void> {
    if (this.stopping) return;
    const plan = makePlan(this.rules, this.numbers, readLinks());
    const active = plan.rules.filter((r) => r.state === "active");
    for (const [ifname, ifindex] of plan.inputs) {
      const cur = this.inputs.get(ifname);
      if (cur && cur.ifindex === ifindex) continue;
      cur?.close();
      this.inputs.set(ifname, new InputSockets(ifname, ifindex, this.log));
      for (const p of this.pairs) p.inputs.delete(ifname);
    }
    for (const [ifname, s] of this.inputs) {
      if (!plan.inputs.has(ifname)) {
        s.close();
        this.inputs.delete(ifname);
      } else s.join(active.filter((r) => r.ifname === ifname), this.log);
    }
    const prevActive = this.plan.rules.filter((r) => r.state === "active");
    const v = ++this.version;
    await Promise.all(this.pairs.map((p) => this.configureEgress(p, [...active, ...prevActive.filter((r) => !active.some((a) => a.no === r.no))], v)));
    await Promise.all(this.pairs.map((p) => this.configureIngress(p, plan, v)));
    await Promise.all(this.pairs.map((p) => this.configureEgress(p, active, v)));
    this.plan = plan;
    for (const r of plan.rules) if (r.state !== "active" && !this.plan.rules.some((x) => x.id === r.id && x.state === r.state)) this.log.warn({ rule: r.id, state: r.state, reason: r.reason }, "rule not forwarding");
    if (this.state === "ready") this.writeStatus();
  }

  private async configureEgress(p: Pair, rules: PlannedRule[], version: number): Promise<void> {
    const sockets: { key: string; fd: number }[] = [];
    const fds: number[] = [];
    const outputs = new Map<number, { outputs: string[]; preserve: boolean[]; impairment?: Impairment; cls: number }>();
    for (const r of rules) {
      const keys: string[] = [];
      const preserve: boolean[] = [];
      for (const o of r.outputs) {
        if (!p.sockets.has(o.key) && !sockets.some((s) => s.key === o.key)) {
          try {
            fds.push(openEgress(o));
            sockets.push({ key: o.key, fd: fds.length - 1 });
          } catch (e) {
            this.log.warn({ rule: r.id, err: String((e as Error).message) }, "output not available");
            continue;
          }
        }
        keys.push(o.key);
        preserve.push(o.preserve);
      }
      outputs.set(r.no, { outputs: keys, preserve, impairment: r.impairment, cls: ruleClass(r) });
    }
    p.egress.send({ type: "config", version, sockets, rules: [...outputs].map(([no, o]) => ({ no, ...o })) }, fds);
    for (const fd of fds) closeFd(fd); // the worker holds them now
    for (const s of sockets) p.sockets.add(s.key);
    const used = new Set([...outputs.values()].flatMap((o) => o.outputs));
    for (const k of p.sockets) if (!used.has(k)) p.sockets.delete(k);
    await p.egress.expect("applied", ANSWER_MS);
  }

  private async configureIngress(p: Pair, plan: Plan, version: number): Promise<void> {
    const inputs: IngressInput[] = [];
    const fds: number[] = [];
    for (const [ifname, ifindex] of plan.inputs) {
      const spec: IngressInput = { ifname, ifindex, geometry: GEOMETRY };
      if (!p.inputs.has(ifname)) {
        fds.push(this.inputs.get(ifname)!.open());
        spec.fd = fds.length - 1;
      }
      inputs.push(spec);
    }
    // Rules that are down still match (their packets are counted as rule_down, not no_rule).
    const rules = plan.rules.filter((r) => plan.inputs.has(r.ifname) && r.state !== "waiting")
      .map((r) => ({ no: r.no, ifname: r.ifname, group: r.group, port: r.port, source: r.source, down: r.state === "down", sample: r.sample, cls: ruleClass(r) }));
    p.ingress.send({ type: "config", version, inputs, rules }, fds);
    for (const fd of fds) closeFd(fd);
    p.inputs = new Set(plan.inputs.keys());
    await p.ingress.expect("applied", ANSWER_MS);
  }

  private statusObject(): Status {
    return {
      state: this.state, pid: process.pid, shm: this.seg.name,
      workers: this.pairs.flatMap((p) => [p.ingress, p.egress].map((w) => ({ role: w.role, index: w.index, pid: w.pid, restarts: p.restarts }))),
      rules: this.plan.rules.map((r) => ({ no: r.no, id: r.id, name: r.name, ifname: r.ifname, state: r.state, reason: r.reason })),
      api: this.api ? { pid: this.api.pid, listen: this.opts.apiListen! } : this.opts.externalApi ? { pid: 0, listen: "external" } : null,
      maxRules: this.opts.maxRules,
      fileRulesPending: (this.api !== null || this.opts.externalApi === true) && this.fileRules !== null && this.fileRules.length > 0,
      updatedAt: new Date().toISOString(),
    };
  }

  private writeStatus(): void {
    writeStatus(this.stateDir, this.statusObject());
  }

  private spawn(pair: Pair, role: "ingress" | "egress", replacesDeadIngress = false): WorkerHandle {
    const w = new WorkerHandle(role, pair.index, this.user, this.opts.logLevel);
    // An idle egress sleeps on its descriptor ring's futex, not on its channel: wake it, or a
    // message waits for the sleep's 100 ms timeout (it made every rule change take 200 ms).
    if (role === "egress") {
      const head = ringHeadAddr(this.seg.addr, this.seg.layout.pairs[pair.index].descRing);
      w.onSend = () => void futexWake(head);
    }
    w.proc.exited.then((code) => this.onWorkerExit(pair, w, code));
    w.send({ type: "init", role, index: pair.index, shmSize: this.seg.layout.size, replacesDeadIngress }, [this.seg.fd]);
    return w;
  }

  private onWorkerExit(pair: Pair, w: WorkerHandle, code: number | null): void {
    if (this.stopping || pair[w.role] !== w) return;
    this.log.error({ role: w.role, index: w.index, pid: w.pid, code, signal: w.proc.signalCode }, "worker died; replacing it");
    const now = Date.now();
    // A crash loop is a worker that fails on its own soon after it started; one that ran, or was
    // killed from outside (SIGKILL: an operator, the OOM killer, our watchdog), is replaced at once.
    const loop = now - w.spawnedAt < 2000 && w.proc.signalCode !== "SIGKILL";
    pair.crashes[w.role] = [...pair.crashes[w.role].filter((t) => now - t < 30_000), ...(loop ? [now] : [])];
    this.applying = this.applying.then(() => this.recover(pair, w.role)).catch((e) => {
      this.log.error({ role: w.role, index: pair.index, err: String(e) }, "replacing the worker failed; trying again");
      if (!this.stopping && !pair[w.role].alive) this.onWorkerExit(pair, pair[w.role], null);
    });
  }

  /**
   * Replaces a dead worker without sending any packet twice and without losing a slot:
   * - ingress died: egress drains (sends what is queued, waits for completions), then every slot
   *   is in the free ring or was the dead ingress's: the new ingress starts owning them all;
   * - egress died: ingress pauses and takes back the slots that are in neither ring (the dead
   *   egress's, sent or lost, never resent); the new egress continues from the ring's tail.
   */
  private async recover(pair: Pair, role: "ingress" | "egress"): Promise<void> {
    if (this.stopping) return;
    const n = pair.crashes[role].length;
    const delay = n === 0 ? 0 : Math.min(10_000, 100 * 2 ** (n - 1)); // crash loops back off
    if (delay) await Bun.sleep(delay);
    if (this.stopping) return;
    const other = role === "ingress" ? pair.egress : pair.ingress;
    pair[role].close();
    const active = this.plan.rules.filter((r) => r.state === "active");
    if (role === "ingress") {
      if (other.alive) {
        other.send({ type: "drain" });
        await other.expect("drained", ANSWER_MS);
      } else this.resetPairRings(pair);
      pair.ingress = this.spawn(pair, "ingress", true);
      await pair.ingress.expect("ready", ANSWER_MS);
      pair.inputs = new Set();
      await this.configureIngress(pair, this.plan, this.version);
    } else {
      if (other.alive) {
        other.send({ type: "reclaim" });
        await other.expect("reclaimed", ANSWER_MS);
      }
      pair.egress = this.spawn(pair, "egress");
      await pair.egress.expect("ready", ANSWER_MS);
      pair.sockets = new Set();
      await this.configureEgress(pair, active, this.version);
      if (other.alive) {
        other.send({ type: "resume" });
        await other.expect("resumed", ANSWER_MS);
      }
    }
    pair.restarts++;
    this.log.info({ role, index: pair.index, pid: pair[role].pid, restarts: pair.restarts }, "worker replaced");
    this.writeStatus();
  }

  /** Both workers of a pair are gone: what was queued between them is dropped, not resent. */
  private resetPairRings(pair: Pair): void {
    const pl = this.seg.layout.pairs[pair.index];
    resetRing(this.seg.buf, pl.descRing);
    resetRing(this.seg.buf, pl.freeRing);
  }

  private checkHeartbeats(): void {
    const now = Date.now();
    for (const p of this.pairs) {
      for (const w of [p.ingress, p.egress]) {
        const pl = this.seg.layout.pairs[p.index];
        const off = w.role === "ingress" ? pl.ingressCounters : pl.egressCounters;
        const hb = new Float64Array(this.seg.buf, off + 8 * HEARTBEAT[w.role], 1)[0];
        if (w.alive && now - Math.max(hb, w.spawnedAt) > HUNG_MS) {
          this.log.error({ role: w.role, index: p.index, pid: w.pid, silentMs: now - Math.max(hb, w.spawnedAt) }, "worker hung; killing it");
          w.proc.kill("SIGKILL");
        }
      }
    }
  }

  /** Stop receiving, let egress drain what is in flight, then remove everything we made. */
  stop(exitCode = 0): Promise<number> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      if (this.rescan) clearInterval(this.rescan);
      if (this.watchdog) clearInterval(this.watchdog);
      if (this.netlink) clearInterval(this.netlink);
      this.state = "stopping";
      await this.api?.stop();
      if (this.seg) this.writeStatus();
      const alive = (w: WorkerHandle) => w.proc.exitCode === null && w.proc.signalCode === null;
      const stopAll = async (ws: WorkerHandle[]) => {
        await Promise.all(ws.filter(alive).map(async (w) => {
          try {
            w.send({ type: "stop" });
            await w.expect("stopped", 2000);
          } catch (e) {
            this.log.warn({ role: w.role, index: w.index, err: String(e) }, "worker did not stop cleanly; killing it");
            w.proc.kill("SIGKILL");
          }
        }));
      };
      await stopAll(this.pairs.map((p) => p.ingress));
      await stopAll(this.pairs.map((p) => p.egress));
      await Promise.all(this.pairs.flatMap((p) => [p.ingress, p.egress]).map((w) => w.proc.exited));
      this.cleanup();
      this.log.info({ exitCode }, "relay stopped");
      return exitCode;
    })();
    return this.stopping;
  }

  /** Synchronous, so it can also run on a second SIGTERM. */
  cleanup(): void {
    this.api?.kill();
    this.control?.stop();
    rmSync(join(this.stateDir, "control.sock"), { force: true });
    for (const p of this.pairs) for (const w of [p.ingress, p.egress]) {
      if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill("SIGKILL");
      w.close();
    }
    for (const s of this.inputs.values()) s.close();
    this.inputs.clear();
    if (this.netlinkFd >= 0) closeFd(this.netlinkFd);
    this.netlinkFd = -1;
    if (this.seg) removeSegment(this.seg.name);
    rmSync(statusPath(this.stateDir), { force: true });
    rmSync(join(this.stateDir, "supervisor.pid"), { force: true });
  }
}
