// The supervisor: it owns the segment and every socket and runs the workers; this file only puts
// the parts together. The parts: the state directory (state-dir.ts), the desired rules and their
// checks (desired.ts), the plan (plan.ts) and how it is carried out on the worker pairs
// (configure.ts, dataplane.ts), dead and hung workers (recovery.ts), the control socket
// (control-socket.ts), the API process (api-process.ts), interface events (link-watch.ts).
import { chownSync, fchownSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import pino from "pino";
import { linkId, loadConfigFile, ruleId, runsOn } from "../../rules/load.ts";
import type { Config } from "../../rules/config.ts";
import type { Rule } from "../../rules/schema.ts";
import type { Link } from "../../rules/link.ts";
import { EGRESS_RULE_COUNTERS, INGRESS_RULE_COUNTERS, LATENCY_WORDS, OUTPUT_COUNTERS, OUTPUT_ROWS_PER_RULE } from "../../shm/layout.ts";
import { OutputRows } from "./output-rows.ts";
import { createSegment, removeSegment, segmentName, type Segment } from "../../shm/segment.ts";
import type { ControlIssue, LinkStatus, Reply, Request, RuleStatus } from "../protocol/control.ts";
import type { LinkStatusEntry } from "../protocol/status.ts";
import type { Status } from "../protocol/status.ts";
import { LOG_LEVELS } from "../startup/environment.ts";
import { makeLogger, type LogFormat } from "../logging.ts";
import { CONFIG_EXIT, ApiProcess } from "./api-process.ts";
import { ControlServer } from "./control-socket.ts";
import { ANSWER_MS, DataPlane } from "./dataplane.ts";
import { DesiredRules, type IdentifiedRule } from "./desired.ts";
import { listInterfaces } from "./interfaces.ts";
import { LinkWatch } from "./link-watch.ts";
import { readNetdevs } from "./netdevs.ts";
import { RuleNumbers } from "./numbers.ts";
import { Pair } from "./pairs.ts";
import { makePlan, type Plan, type PlannedRule } from "./plan.ts";
import { Captures, linkWants, ruleWants } from "./capture.ts";
import type { PlannedLink } from "./link-plan.ts";
import { captureQuerySchema, type CaptureQuery } from "../protocol/capture.ts";
import { channelKeys, DesiredLinks, type IdentifiedLink } from "./desired-links.ts";
import { Recovery } from "./recovery.ts";
import { Realtime } from "./realtime.ts";
import { readTune } from "../tune.ts";
import { StateDir } from "./state-dir.ts";
import { lookupUser, type RelayUser } from "./workers.ts";
import type { PairCpus } from "../startup/low-latency.ts";

export interface RelayOptions {
  config: Config;
  workers: number;
  stateDir: string;
  user: string;
  logLevel: string;
  /** pretty or json; the workers and the API get it as MCRELAY_LOG_FORMAT */
  logFormat: LogFormat;
  maxRules: number;
  /** HOST:PORT for the REST API, or null to run without it */
  apiListen: string | null;
  /** an API runs elsewhere (its own container) and manages the rules through the control socket */
  externalApi?: boolean;
  /** the --config file, re-read on SIGHUP */
  configPath?: string;
  /** this relay's name in a fleet (--node): of the file's rules it runs only those for it or for every node */
  node: string;
  /** --low-latency: per pair, the CPUs its workers busy-poll on */
  busyPoll?: PairCpus[];
}

/** A start-up failure that is the configuration's fault: exit code 2. */
export class StartupConfigError extends Error {}

/** Rules logged one by one when their state changes; past this, a count. */
const LOG_EACH = 200;

export class Relay {
  readonly log: pino.Logger;
  private seg!: Segment;
  private pairs: Pair[] = [];
  private dataplane!: DataPlane;
  private recovery!: Recovery;
  private readonly numbers: RuleNumbers;
  private readonly rows: OutputRows;
  private readonly desired = new DesiredRules();
  /** numbers of deleted rules, until every egress retired them */
  private readonly held = new Set<number>();
  private readonly desiredLinks = new DesiredLinks();
  private plan: Plan = { rules: [], inputs: new Map(), links: [] };
  private version = 0;
  private state: Status["state"] = "starting";
  private stopping: Promise<number> | null = null;
  private watchdog: Timer | null = null;
  /** quiet workers made real-time, and the guard on them */
  private realtime!: Realtime;
  private pump: Timer | null = null;
  private readonly links: LinkWatch;
  private applying = Promise.resolve();
  private readonly dir: StateDir;
  /** the file's rules, handed to the API once to import into its store */
  private fileRules: Rule[] | null;
  /** the rules file's links, for the API to import (null once it has) */
  private fileLinks: Link[] | null;
  private user!: RelayUser;
  private control: ControlServer | null = null;
  private api: ApiProcess | null = null;
  private apiHello: (() => void) | null = null;
  private apiFailed: ((code: number) => void) | null = null;
  private captures: Captures | null = null;
  private readonly startedAt = new Date().toISOString();

  constructor(private readonly opts: RelayOptions) {
    this.log = makeLogger({ component: "supervisor", pid: process.pid }, opts.logLevel, opts.logFormat);
    // Read by workers.ts and api-process.ts when they start their processes.
    process.env.MCRELAY_LOG_FORMAT = opts.logFormat;
    this.dir = new StateDir(resolve(opts.stateDir), this.log);
    this.numbers = new RuleNumbers(opts.maxRules);
    this.rows = new OutputRows(opts.maxRules * OUTPUT_ROWS_PER_RULE);
    this.fileRules = opts.config.rules;
    this.fileLinks = opts.config.links;
    this.links = new LinkWatch(() => this.reapply(), (o, m) => this.log.debug(o, m));
  }

  async start(): Promise<void> {
    const user = (this.user = lookupUser(this.opts.user));
    const stateDir = this.dir.dir;
    this.dir.claim();
    const name = segmentName(stateDir);
    this.seg = createSegment(name, {
      workers: this.opts.workers, maxRules: this.opts.maxRules,
      slots: this.opts.config.pool.slots, jumboSlots: this.opts.config.pool.jumboSlots,
    });
    // Readable by the relay user, so the unprivileged API reads counters without asking us.
    fchownSync(this.seg.fd, user.uid, user.gid);
    this.log.info({ shm: `/dev/shm/${name}`, bytes: this.seg.layout.size, workers: this.opts.workers }, "segment created");
    this.pairs = Array.from({ length: this.opts.workers }, (_, i) =>
      new Pair(i, this.seg, user, () => this.log.level, (pair, nos) => this.dataplane.retired(pair, nos), this.opts.busyPoll?.[i]));
    this.dataplane = new DataPlane(this.pairs, this.log, this.rows);
    this.dataplane.onRetired = (no) => this.recycleIfHeld(no);
    this.recovery = new Recovery({
      seg: this.seg, dataplane: this.dataplane, log: this.log, stopping: () => this.stopping !== null, plan: () => this.plan,
      serialize: (fn) => this.queue(fn), changed: () => this.changed(),
    });
    for (const p of this.pairs) for (const role of ["ingress", "egress"] as const) p.spawn(role, (h) => this.recovery.onExit(p, h));
    // Between requests: what waits to go to a worker, and what workers say unprompted.
    const realtime = (this.realtime = new Realtime(this.seg, this.log, readTune().quiet.realtime));
    this.pump = setInterval(() => {
      for (const p of this.pairs) for (const w of p.workers()) {
        w.flush();
        w.pump();
      }
      realtime.check(this.pairs);
    }, 50);
    for (const p of this.pairs) for (const w of p.workers()) await w.expect("ready", ANSWER_MS);
    // A rules file may hold a fleet's rules and links: this node runs its own (the API stores them all).
    const initial = this.check(this.opts.config.rules.filter((r) => runsOn(r, this.opts.node)), [], this.opts.config.links.filter((l) => runsOn(l, this.opts.node)), []);
    if ("issues" in initial) throw new StartupConfigError(initial.issues.map((i) => `${i.kind ?? "rule"} ${i.id} ${i.path.join(".")}: ${i.message}`).join("\n"));
    this.take(initial.rules, [], initial.links, []);
    await this.queueApply();
    await this.startApi();
    this.state = "ready";
    this.dir.writeNow(this.statusObject());
    const active = this.plan.rules.filter((r) => r.state === "active").length;
    this.log.info({ rules: this.plan.rules.length, active }, "relay ready");
    this.links.start();
    this.watchdog = setInterval(() => {
      this.recovery.checkHeartbeats(this.pairs);
      this.realtime.guard(this.pairs);
    }, 500);
  }

  /** The control socket, and the API if we run it: start-up waits for its first hello, and fails
   *  (exit 2) if it refuses its configuration. */
  private async startApi(): Promise<void> {
    const sock = join(this.dir.dir, "control.sock");
    const user = this.user;
    this.control = new ControlServer(sock, user, (peer) => this.allowPeer(peer), (req) => this.handle(req), this.log);
    if (!this.opts.apiListen) return;
    const apiDir = join(this.dir.dir, "api");
    mkdirSync(apiDir, { recursive: true, mode: 0o700 });
    chownSync(apiDir, user.uid, user.gid);
    const first = new Promise<void>((res, rej) => {
      this.apiHello = res;
      this.apiFailed = (code) => rej(new StartupConfigError(`the API refused its configuration (exit ${code}); its message is above`));
    });
    this.api = new ApiProcess({
      user, listen: this.opts.apiListen, stateDir: apiDir, control: sock, logLevel: this.opts.logLevel, log: this.log,
      onConfigError: (code) => this.apiFailed?.(code),
    });
    this.api.start();
    const timeout = Bun.sleep(ANSWER_MS).then(() => "timeout" as const);
    if ((await Promise.race([first, timeout])) === "timeout") this.log.warn({}, "the API has not connected yet; the relay runs, and the API is retried");
    this.apiFailed = (code) => this.log.error({ code }, "the API refused its configuration; the relay forwards without it");
  }

  /** Who may use the control socket: the API we started (by pid), or with --external-api any
   *  process of the relay user (the other container). Never a worker: same user, other pid. */
  private allowPeer(peer: { pid: number; uid: number }): string | null {
    if (peer.uid === 0) return null; // root can do all this and more anyway
    if (this.api) return peer.pid === this.api.pid ? null : `pid ${peer.pid} (uid ${peer.uid}) is not the API this supervisor started (pid ${this.api.pid})`;
    if (this.opts.externalApi) {
      if (this.pairs.some((p) => p.workers().some((w) => w.pid === peer.pid))) return `pid ${peer.pid} is a worker`;
      return peer.uid === this.user.uid || peer.uid === 0 ? null : `uid ${peer.uid} is not the relay user ${this.user.name} (${this.user.uid})`;
    }
    return "this relay runs without an API (--no-api)";
  }

  /** Requests from the API over the control socket. */
  private async handle(req: Request): Promise<Reply> {
    switch (req.type) {
      case "hello":
        this.apiHello?.();
        this.apiHello = null;
        return { ok: true, type: "hello", fileRules: this.fileRules ?? [], fileLinks: this.fileLinks ?? [], shm: this.seg.name, node: this.opts.node, startedAt: this.startedAt };
      case "imported":
        this.fileRules = null; // imported once: later API restarts must not revert API edits
        this.fileLinks = null;
        this.changed();
        return { ok: true, type: "done" };
      case "sync": {
        const keep = new Set(req.rules.map((r) => ruleId(r)));
        const keepLinks = new Set((req.links ?? []).map((l) => linkId(l)));
        const links = req.links ? { put: req.links, delete: this.desiredLinks.list().map((l) => l.id).filter((id) => !keepLinks.has(id)) } : undefined;
        return this.change(req.rules, this.desired.list().map((r) => r.id).filter((id) => !keep.has(id)), false, links);
      }
      case "change":
        return this.change(req.put, req.delete, true, req.links);
      case "status":
        return { ok: true, type: "status", status: this.statusObject() };
      case "interfaces":
        return { ok: true, type: "interfaces", interfaces: listInterfaces(this.plan) };
      case "log-level":
        if (!(LOG_LEVELS as readonly string[]).includes(req.level)) return { ok: false, error: `log level must be one of ${LOG_LEVELS.join(", ")}` };
        this.log.level = req.level;
        for (const p of this.pairs) for (const w of p.workers()) if (w.alive) w.send({ type: "log-level", level: req.level });
        return { ok: true, type: "done" };
      case "capture":
        return this.capture(req.kind, req.target, req.query);
      case "capture-stop":
        this.captures?.end(req.fifo);
        return { ok: true, type: "done" };
      default:
        return { ok: false, error: `unknown request type "${(req as { type: string }).type}"` };
    }
  }

  /** Starts a capture of a rule or link this node runs (it must be forwarding: a capture of
   *  something that waits for an interface would show nothing and say nothing). */
  private capture(kind: "rule" | "link", id: string, query: CaptureQuery): Reply {
    const checked = captureQuerySchema.safeParse(query); // trust no peer
    if (!checked.success) return { ok: false, error: `invalid capture: ${checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}` };
    const q = checked.data;
    const o = kind === "rule" ? this.plan.rules.find((r) => r.id === id) : this.plan.links.find((l) => l.id === id);
    if (!o) return { ok: false, error: `no ${kind} ${id} runs on this node` };
    if (o.state !== "active") return { ok: false, error: `${kind} ${id} is ${o.state}${o.reason ? ` (${o.reason})` : ""}: nothing to capture` };
    this.captures ??= new Captures(join(this.dir.dir, "api"), this.user, (m, msg) => this.log.info(m, msg));
    try {
      const wants = kind === "rule" ? ruleWants(o as PlannedRule, q) : linkWants(o as PlannedLink, q);
      return { ok: true, type: "capture", fifo: this.captures.start(`${kind} ${id}`, wants, q) };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  /** Checks rules and links of one change together (a rule may not take a link's interface, nor
   *  a link a rule's input; numbers are shared). Changes nothing. */
  private check(put: unknown[], del: string[], linkPut: unknown[], linkDel: string[]):
    { rules: IdentifiedRule[]; links: IdentifiedLink[] } | { issues: ControlIssue[] } {
    const netdevs = readNetdevs();
    const c = this.desired.check(put, del.filter((id) => this.desired.has(id)), this.numbers, netdevs);
    if ("issues" in c) return c;
    const after = new Map(this.desired.list().map((r) => [r.id, r]));
    for (const id of del) after.delete(id);
    for (const r of c.rules) after.set(r.id, r);
    const newRules = c.rules.filter((r) => this.numbers.get(r.id) === undefined).length;
    const l = this.desiredLinks.check(linkPut, linkDel.filter((id) => this.desiredLinks.has(id)), [...after.values()], this.numbers,
      this.numbers.available - newRules, new Set(c.rules.map((r) => r.id)));
    if ("issues" in l) return l;
    return { rules: c.rules, links: l.links };
  }

  /** All of a change, or none of it: checked, then taken and applied. */
  private async change(put: Rule[], del: string[], report: boolean, links?: { put: Link[]; delete: string[] }): Promise<Reply> {
    let issues: ControlIssue[] = [];
    let ok: IdentifiedRule[] = [];
    let okLinks: IdentifiedLink[] = [];
    // Checked inside the queue: the numbers and names it sees are those of every change before it.
    await this.queue(async () => {
      const c = this.check(put, del, links?.put ?? [], links?.delete ?? []);
      if ("issues" in c) issues = c.issues;
      else {
        ok = c.rules;
        okLinks = c.links;
        const undo = this.take(ok, del, okLinks, links?.delete ?? []);
        try {
          await this.applyNow();
        } catch (e) {
          // A worker died or did not answer: the change is not in force, so it is not taken
          // either (the API undoes it in its store). The next apply settles the workers.
          undo();
          this.reapply();
          throw e;
        }
      }
    });
    if (issues.length) return { ok: false, error: "the data plane refused the change", issues };
    const byId = new Map(this.plan.rules.map((r) => [r.id, r]));
    const rules: RuleStatus[] = report ? ok.map((r) => {
      const p = byId.get(r.id)!;
      return { id: r.id, state: p.state, ...(p.reason ? { reason: p.reason } : {}) };
    }) : [];
    const linkById = new Map(this.plan.links.map((l) => [l.id, l]));
    const linkStates: LinkStatus[] = report ? okLinks.map((l) => {
      const p = linkById.get(l.id)!;
      return { id: l.id, state: p.state, ...(p.reason ? { reason: p.reason } : {}) };
    }) : [];
    return { ok: true, type: "applied", version: this.version, rules, links: linkStates };
  }

  /** Takes checked rules and links into the desired sets; what is gone gives back its numbers
   *  (once drained): a deleted rule's, a deleted link's channels, a changed link's lost flows'.
   *  Returns how to put the sets back as they were. */
  private take(put: IdentifiedRule[], del: string[], linkPut: IdentifiedLink[] = [], linkDel: string[] = []): () => void {
    const before = new Map<string, IdentifiedRule | undefined>();
    for (const id of [...del, ...put.map((r) => r.id)]) if (!before.has(id)) before.set(id, this.desired.get(id));
    const linksBefore = new Map<string, IdentifiedLink | undefined>();
    for (const id of [...linkDel, ...linkPut.map((l) => l.id)]) if (!linksBefore.has(id)) linksBefore.set(id, this.desiredLinks.get(id));
    const release = (keys: string[]) => {
      for (const k of keys) {
        const no = this.numbers.release(k);
        if (no !== undefined) this.held.add(no);
      }
    };
    const keysOf = (ls: (IdentifiedLink | undefined)[]) => ls.flatMap((l) => (l ? channelKeys(l).map((c) => c.key) : []));
    /** Sets the desired state to `rs`/`ls` for the ids given, releasing numbers no longer used. */
    const setTo = (rs: IdentifiedRule[], rdel: string[], ls: IdentifiedLink[], ldel: string[]) => {
      release(rdel.filter((id) => this.desired.has(id)));
      const oldKeys = keysOf([...ldel, ...ls.map((l) => l.id)].map((id) => this.desiredLinks.get(id)));
      this.desired.apply(rs, rdel);
      this.desiredLinks.apply(ls, ldel);
      const newKeys = new Set(keysOf(ls));
      release(oldKeys.filter((k) => !newKeys.has(k)));
      for (const r of rs) if (this.numbers.take(r.id) === null) this.log.error({ rule: r.id }, "no rule number left for a rule");
      for (const k of newKeys) if (this.numbers.take(k) === null) this.log.error({ key: k }, "no rule number left for a link channel");
    };
    setTo(put, del, linkPut, linkDel);
    return () => {
      const back = [...before.values()].filter((r): r is IdentifiedRule => r !== undefined);
      const added = [...before].filter(([, r]) => r === undefined).map(([id]) => id);
      const linksBack = [...linksBefore.values()].filter((l): l is IdentifiedLink => l !== undefined);
      const linksAdded = [...linksBefore].filter(([, l]) => l === undefined).map(([id]) => id);
      setTo(back, added, linksBack, linksAdded);
    };
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
    let put: Rule[] = cfg.rules.filter((r) => runsOn(r, this.opts.node));
    let del: string[] = [];
    const current = this.desired.list();
    if (this.api || this.opts.externalApi) {
      // Matched by id, else by name: the stored rule keeps its id.
      put = put.map((r) => ({ ...r, id: r.id ?? current.find((x) => r.name !== undefined && x.name === r.name)?.id ?? ruleId(r) }));
      this.fileRules = cfg.rules; // the API picks them up when it sees the status change
    } else {
      const keep = new Set(put.map((r) => ruleId(r)));
      del = current.map((r) => r.id).filter((id) => !keep.has(id));
    }
    const unchanged = new Map(current.map((r) => [r.id, JSON.stringify(r)]));
    put = put.filter((r) => unchanged.get(ruleId(r)) !== JSON.stringify({ ...r, id: ruleId(r) }));
    // Links the same way: upserted for the API to import, or (without one) the file's are all there is.
    const curLinks = this.desiredLinks.list();
    let linkPut: Link[] = cfg.links.filter((l) => runsOn(l, this.opts.node));
    let linkDel: string[] = [];
    if (this.api || this.opts.externalApi) {
      linkPut = linkPut.map((l) => ({ ...l, id: l.id ?? curLinks.find((x) => l.name !== undefined && x.name === l.name)?.id ?? linkId(l) }));
      this.fileLinks = cfg.links;
    } else {
      const keep = new Set(linkPut.map((l) => linkId(l)));
      linkDel = curLinks.map((l) => l.id).filter((id) => !keep.has(id));
    }
    const sameLink = new Map(curLinks.map((l) => [l.id, JSON.stringify(l)]));
    linkPut = linkPut.filter((l) => sameLink.get(linkId(l)) !== JSON.stringify({ ...l, id: linkId(l) }));
    const r = await this.change(put, del, false, { put: linkPut, delete: linkDel });
    if (!r.ok) return this.log.error({ issues: r.issues }, "SIGHUP: the rules file does not fit this host; keeping the rules in force");
    this.log.info({ rules: cfg.rules.length, changed: put.length, deleted: del.length }, "SIGHUP: rules file reloaded");
  }

  /** Re-plans after interface events (and every 5 s: failed joins and outputs are retried). */
  private reapply(): void {
    if (this.stopping) return;
    this.queueApply().catch((e) => this.log.error({ err: String(e) }, "applying rules failed"));
  }

  /** Runs fn after everything queued before it; a failure is the caller's to handle, and does
   *  not stop what is queued after it. */
  private queue(fn: () => Promise<void>): Promise<void> {
    const run = this.applying.then(fn);
    this.applying = run.catch(() => {});
    return run;
  }

  private queueApply(): Promise<void> {
    return this.queue(() => this.applyNow());
  }

  /** Plans from the desired rules and the interfaces now, and carries it out. */
  private async applyNow(): Promise<void> {
    if (this.stopping) return;
    const plan = makePlan(this.desired.list(), (id) => this.numbers.get(id)!, readNetdevs(), undefined, this.desiredLinks.list());
    const done = await this.dataplane.apply(plan);
    const before = this.plan;
    this.plan = done;
    this.logStateChanges(before, done);
    for (const no of this.held) if (!this.dataplane.draining(no)) this.recycleIfHeld(no);
    this.changed();
  }

  /** Each rule that is waiting or down is named once, with why, when it becomes so. */
  private logStateChanges(before: Plan, after: Plan): void {
    const was = new Map(before.rules.map((r) => [r.id, r]));
    let logged = 0;
    let more = 0;
    for (const r of after.rules) {
      const w = was.get(r.id);
      if (w && w.state === r.state && w.reason === r.reason) continue;
      if (r.state === "active" && !r.reason && (!w || w.state === "active")) continue;
      if (logged++ >= LOG_EACH) {
        more++;
        continue;
      }
      const what = { rule: r.name ?? r.id, id: r.id, state: r.state, ...(r.reason ? { reason: r.reason } : {}) };
      if (r.state === "active") this.log.info(what, r.reason ? "rule forwarding, with a problem" : "rule forwarding again");
      else this.log.warn(what, "rule not forwarding");
    }
    if (more) this.log.warn({ rules: more }, "more rules changed state (GET /api/v1/rules names them)");
  }

  /** A deleted rule's number, free once no egress holds packets of it: its counters start at zero. */
  private recycleIfHeld(no: number): void {
    if (!this.held.delete(no)) return;
    const l = this.seg.layout;
    for (const pl of l.pairs) {
      new Float64Array(this.seg.buf, pl.ingressRules + 8 * INGRESS_RULE_COUNTERS.length * no, INGRESS_RULE_COUNTERS.length).fill(0);
      new Float64Array(this.seg.buf, pl.egressRules + 8 * EGRESS_RULE_COUNTERS.length * no, EGRESS_RULE_COUNTERS.length).fill(0);
      new Float64Array(this.seg.buf, pl.egressLatency + 8 * LATENCY_WORDS * no, LATENCY_WORDS).fill(0);
    }
    for (const row of this.rows.release(no)) {
      for (const pl of l.pairs) new Float64Array(this.seg.buf, pl.egressOutputs + 8 * OUTPUT_COUNTERS.length * row, OUTPUT_COUNTERS.length).fill(0);
    }
    this.numbers.recycle(no);
  }

  /** The status changed: status.json soon, and the API is told. */
  private changed(): void {
    this.version++;
    if (this.state === "ready") this.dir.written(() => this.statusObject());
    this.control?.broadcast({ id: 0, type: "status-changed", version: this.version });
  }

  private statusObject(): Status {
    return {
      state: this.state, version: this.version, pid: process.pid, node: this.opts.node, startedAt: this.startedAt, shm: this.seg?.name ?? "",
      workers: this.pairs.flatMap((p) => p.workers().map((w) => ({ role: w.role, index: w.index, pid: w.pid, restarts: p.restarts }))),
      rules: this.plan.rules.map((r) => ({ no: r.no, id: r.id, name: r.name, ifname: r.ifname, state: r.state, reason: r.reason, outputRows: this.rows.of(r.no), ...(r.paths ? { paths: r.paths.length } : {}) })),
      links: this.plan.links.map((l) => ({
        id: l.id, ...(l.name !== undefined ? { name: l.name } : {}), a: l.a, b: l.b, state: l.state, ...(l.reason ? { reason: l.reason } : {}),
        channels: Object.fromEntries(l.ways.map((w) => [w.dir, { no: w.channels[0]!.no, flows: w.channels.slice(1).map((c) => ({ name: c.name!, no: c.no })) }])) as LinkStatusEntry["channels"],
      })),
      api: this.api ? { pid: this.api.pid, listen: this.opts.apiListen! } : this.opts.externalApi ? { pid: 0, listen: "external" } : null,
      joins: this.dataplane?.joins() ?? [],
      maxRules: this.opts.maxRules,
      fileRulesPending: (this.api !== null || this.opts.externalApi === true) && ((this.fileRules?.length ?? 0) > 0 || (this.fileLinks?.length ?? 0) > 0),
      updatedAt: new Date().toISOString(),
    };
  }

  /** Stop receiving, let egress drain what is in flight, then remove everything we made. */
  stop(exitCode = 0): Promise<number> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      this.links.stop();
      this.captures?.stop();
      if (this.watchdog) clearInterval(this.watchdog);
      this.state = "stopping";
      await this.api?.stop();
      if (this.seg) this.dir.writeNow(this.statusObject());
      const stopAll = async (ws: Pair["ingress"][]) => {
        await Promise.all(ws.filter((w) => w?.alive).map(async (w) => {
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
      await Promise.all(this.pairs.flatMap((p) => p.workers()).filter(Boolean).map((w) => w.proc.exited));
      this.cleanup();
      this.log.info({ exitCode }, "relay stopped");
      return exitCode;
    })();
    return this.stopping;
  }

  /** Synchronous and never throwing, so it can also run on a second SIGTERM and on a full disk. */
  cleanup(): void {
    const quietly = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, `clean-up: ${what}`);
      }
    };
    if (this.pump) clearInterval(this.pump);
    this.api?.kill();
    quietly("control socket", () => this.control?.stop());
    for (const p of this.pairs) for (const w of p.workers()) {
      if (!w) continue;
      if (w.alive) w.proc.kill("SIGKILL");
      quietly("worker channel", () => w.close());
    }
    quietly("input sockets", () => this.dataplane?.close());
    quietly("segment", () => this.seg && removeSegment(this.seg.name));
    this.dir.cleanup();
  }

  static readonly CONFIG_EXIT = CONFIG_EXIT;
}
