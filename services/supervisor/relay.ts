// The supervisor: owns the segment and every socket, runs the workers, applies the rules.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import pino from "pino";
import { closeFd, ifIndex } from "../../c/inet.ts";
import type { Config } from "../../rules/schema.ts";
import { createSegment, removeSegment, segmentName, type Segment } from "../../shm/segment.ts";
import type { IngressInput } from "../control.ts";
import { makePlan, RuleNumbers, type Plan, type PlannedRule } from "./plan.ts";
import { GEOMETRY, InputSockets, openEgress } from "./sockets.ts";
import { statusPath, writeStatus, type Status } from "./status.ts";
import { lookupUser, WorkerHandle } from "./workers.ts";

export interface RelayOptions {
  config: Config;
  workers: number;
  stateDir: string;
  user: string;
  logLevel: string;
  maxRules: number;
}

const ANSWER_MS = 10_000;

interface Pair {
  ingress: WorkerHandle;
  egress: WorkerHandle;
  /** egress socket keys this pair's egress already holds */
  sockets: Set<string>;
  /** input interfaces this pair's ingress already has a socket for */
  inputs: Set<string>;
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
  private applying = Promise.resolve();
  private readonly stateDir: string;

  constructor(private readonly opts: RelayOptions) {
    this.log = pino({ base: { component: "supervisor", pid: process.pid }, level: opts.logLevel });
    this.stateDir = resolve(opts.stateDir);
    this.numbers = new RuleNumbers(opts.maxRules);
  }

  async start(): Promise<void> {
    const user = lookupUser(this.opts.user);
    this.claimStateDir();
    const name = segmentName(this.stateDir);
    this.seg = createSegment(name, {
      workers: this.opts.workers, maxRules: this.opts.maxRules,
      slots: this.opts.config.pool.slots, jumboSlots: this.opts.config.pool.jumboSlots,
    });
    this.log.info({ shm: `/dev/shm/${name}`, bytes: this.seg.layout.size, workers: this.opts.workers }, "segment created");
    for (let i = 0; i < this.opts.workers; i++) {
      const pair: Pair = {
        ingress: new WorkerHandle("ingress", i, user, this.opts.logLevel),
        egress: new WorkerHandle("egress", i, user, this.opts.logLevel),
        sockets: new Set(), inputs: new Set(),
      };
      this.pairs.push(pair);
      for (const w of [pair.ingress, pair.egress]) {
        w.proc.exited.then((code) => this.onWorkerExit(w, code));
        w.send({ type: "init", role: w.role, index: i, shmSize: this.seg.layout.size }, [this.seg.fd]);
      }
    }
    for (const p of this.pairs) for (const w of [p.ingress, p.egress]) await w.expect("ready", ANSWER_MS);
    await this.apply();
    this.state = "ready";
    this.writeStatus();
    this.log.info({ rules: this.plan.rules.length, active: this.plan.rules.filter((r) => r.state === "active").length }, "relay ready");
    // Interfaces that appear later start their waiting rules (netlink events replace this poll later).
    this.rescan = setInterval(() => this.applyIfInterfacesChanged(), 1000);
  }

  private claimStateDir(): void {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o755 });
    const pidFile = join(this.stateDir, "supervisor.pid");
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, "utf8"));
      if (pid > 0 && pid !== process.pid && existsSync(`/proc/${pid}`)) {
        throw new Error(`another relay (pid ${pid}) uses the state directory ${this.stateDir}`);
      }
      // A crashed predecessor may have left its segment behind.
      removeSegment(segmentName(this.stateDir));
    }
    writeFileSync(pidFile, String(process.pid) + "\n");
  }

  private applyIfInterfacesChanged(): void {
    const next = makePlan(this.opts.config.rules, this.numbers, ifIndex);
    const sig = (p: Plan) => p.rules.map((r) => `${r.id}:${r.state}:${r.ifindex}:${r.outputs.map((o) => o.ifindex).join(",")}`).join(";");
    if (sig(next) !== sig(this.plan)) this.queueApply();
  }

  private queueApply(): void {
    this.applying = this.applying.then(() => this.apply()).catch((e) => this.log.error({ err: String(e) }, "applying rules failed"));
  }

  /**
   * Three steps so no packet meets a worker that lacks its rule: egress learns new rules first
   * (keeping the old), then ingress switches to the new table, then egress forgets deleted ones.
   */
  private async apply(): Promise<void> {
    if (this.stopping) return;
    const plan = makePlan(this.opts.config.rules, this.numbers, ifIndex);
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
    await Promise.all(this.pairs.map((p) => this.configureIngress(p, plan, active, v)));
    await Promise.all(this.pairs.map((p) => this.configureEgress(p, active, v)));
    this.plan = plan;
    for (const r of plan.rules) if (r.state === "waiting") this.log.warn({ rule: r.id, reason: r.reason }, "rule waits");
    if (this.state === "ready") this.writeStatus();
  }

  private async configureEgress(p: Pair, rules: PlannedRule[], version: number): Promise<void> {
    const sockets: { key: string; fd: number }[] = [];
    const fds: number[] = [];
    const outputs = new Map<number, string[]>();
    for (const r of rules) {
      const keys: string[] = [];
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
      }
      outputs.set(r.no, keys);
    }
    p.egress.send({ type: "config", version, sockets, rules: [...outputs].map(([no, o]) => ({ no, outputs: o })) }, fds);
    for (const fd of fds) closeFd(fd); // the worker holds them now
    for (const s of sockets) p.sockets.add(s.key);
    const used = new Set([...outputs.values()].flat());
    for (const k of p.sockets) if (!used.has(k)) p.sockets.delete(k);
    await p.egress.expect("applied", ANSWER_MS);
  }

  private async configureIngress(p: Pair, plan: Plan, active: PlannedRule[], version: number): Promise<void> {
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
    const rules = active.map((r) => ({ no: r.no, ifname: r.ifname, group: r.group, port: r.port, source: r.source }));
    p.ingress.send({ type: "config", version, inputs, rules }, fds);
    for (const fd of fds) closeFd(fd);
    p.inputs = new Set(plan.inputs.keys());
    await p.ingress.expect("applied", ANSWER_MS);
  }

  private writeStatus(): void {
    writeStatus(this.stateDir, {
      state: this.state, pid: process.pid, shm: this.seg.name,
      workers: this.pairs.flatMap((p) => [p.ingress, p.egress].map((w) => ({ role: w.role, index: w.index, pid: w.pid }))),
      rules: this.plan.rules.map((r) => ({ no: r.no, id: r.id, name: r.name, state: r.state, reason: r.reason })),
    });
  }

  private onWorkerExit(w: WorkerHandle, code: number | null): void {
    if (this.stopping) return;
    // Restarting a worker and reclaiming its slots is the resilience work still to come; until
    // then a dead worker stops the relay loudly instead of forwarding on half its cores.
    this.log.error({ role: w.role, index: w.index, pid: w.pid, code, signal: w.proc.signalCode }, "worker exited; stopping the relay");
    this.stop(1);
  }

  /** Stop receiving, let egress drain what is in flight, then remove everything we made. */
  stop(exitCode = 0): Promise<number> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      if (this.rescan) clearInterval(this.rescan);
      this.state = "stopping";
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
    for (const p of this.pairs) for (const w of [p.ingress, p.egress]) {
      if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill("SIGKILL");
      w.close();
    }
    for (const s of this.inputs.values()) s.close();
    this.inputs.clear();
    if (this.seg) removeSegment(this.seg.name);
    rmSync(statusPath(this.stateDir), { force: true });
    rmSync(join(this.stateDir, "supervisor.pid"), { force: true });
  }
}
