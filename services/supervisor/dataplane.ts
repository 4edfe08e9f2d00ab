// Carries out a plan on the worker pairs, in three steps so that no packet meets a worker that
// lacks its rule: egress learns new and changed rules (keeping the old), ingress switches its
// match table, egress retires the rules that are gone (it answers "retired" once no packet of
// one is left; then the rule's number may be used again). Only differences are sent, in parts.
import { isMulticastIp } from "../../rules/ip.ts";
import { ErrnoError } from "../../c/lib.ts";
import { MAX_FDS_PER_MESSAGE } from "../../c/unixmsg.ts";
import type { EgressConfigMsg, IngressConfigMsg, IngressInput } from "../protocol/worker.ts";
import { packetTxOpen } from "../../c/packet_tx.ts";
import { cut, delta, egressRules, frameSocketKey, ingressLinks, ingressRules, linkWays, pinnedInputs, sharedInputs, splitRules, type OutputFacts, type Part, type Sharing } from "./configure.ts";
import { readTune } from "../tune.ts";
import { EgressSockets, socketKey } from "./egress-sockets.ts";
import type { OutputRows } from "./output-rows.ts";
import { GEOMETRY, inputGeometry, linkGeometry } from "./geometry.ts";
import { readMtu } from "./netdevs.ts";
import { InputSlots, InputSockets, type Logger } from "./inputs.ts";
import type { Plan, PlannedOutput } from "./plan.ts";
import type { Pair } from "./pairs.ts";
import type { WorkerHandle } from "./workers.ts";

/** How long a worker may take to answer a configuration. */
export const ANSWER_MS = 10_000;

const SPLIT = readTune().split; // a bad MCRELAY_TUNE_* value stops start-up before this is read

export class DataPlane {
  private readonly inputs = new Map<string, InputSockets>();
  private readonly slots = new InputSlots();
  private readonly sockets = new EgressSockets();
  /** outputs that could not be opened at the last attempt: key -> why */
  private readonly failedOutputs = new Map<string, string>();
  /** rule number -> pairs whose egress still holds packets of it */
  private readonly retiring = new Map<number, Set<number>>();
  private version = 0;
  /** called when a number is retired by every pair */
  onRetired: (no: number) => void = () => {};

  private readonly facts: OutputFacts;

  constructor(readonly pairs: Pair[], private readonly log: Logger, rows: OutputRows) {
    this.facts = { socketKey, sourcePort: (o) => this.sockets.sourcePort(o), row: (no, i) => rows.row(no, i) };
  }

  /** Some egress may still hold packets of this rule number. */
  draining(no: number): boolean {
    return this.retiring.has(no);
  }

  /** An egress says these numbers are gone from it. */
  retired(pair: number, nos: number[]): void {
    for (const no of nos) {
      const waiting = this.retiring.get(no);
      if (!waiting?.delete(pair) || waiting.size > 0) continue;
      this.retiring.delete(no);
      this.onRetired(no);
    }
  }

  /** Memberships and their failures, per input interface (for status and metrics). */
  joins(): { ifname: string; joined: number; failed: number }[] {
    return [...this.inputs.values()].map((s) => ({ ifname: s.ifname, joined: s.joins.count, failed: s.joins.failed.size }));
  }

  /**
   * Carries out `next`; returns it with what was found on the way: groups that could not be
   * joined and outputs that could not be opened (a rule says so in its state and reason).
   */
  async apply(next: Plan): Promise<Plan> {
    const version = ++this.version;
    this.openInputs(next);
    const plan = this.markProblems(next);
    const opened = (o: PlannedOutput) => !this.failedOutputs.has(o.key);
    const frameOpened = (k: string) => !this.failedOutputs.has(k);
    const egressWant = (pair: number) => egressRules(plan, opened, this.facts, frameOpened, this.sharing(pair));

    // 1: egress learns new and changed rules, with their new sockets; it keeps every rule it has.
    await this.each((p) => {
      const sockets = this.openSockets(p, plan);
      const want = egressWant(p.index);
      const d = delta(p.egressRules, want);
      for (const r of d.put) {
        p.egressRules.set(r.no, r);
        // Put again while it still retired (down, then up): egress keeps it, and will not say "retired".
        const w = this.retiring.get(r.no);
        if (w?.delete(p.index) && w.size === 0) this.retiring.delete(r.no);
      }
      for (const s of sockets) p.egressSockets.add(s.key);
      return this.sendParts(p.egress, cut<EgressConfigMsg>(version, { sockets, put: d.put, remove: [] }, MAX_FDS_PER_MESSAGE), true);
    });
    // 2: ingress switches to the new table and inputs.
    await this.each((p) => {
      const { inputs, fds } = this.inputSpecs(p, plan);
      const d = delta(p.ingressRules, ingressRules(plan, this.sharing(p.index)));
      for (const no of d.remove) p.ingressRules.delete(no);
      for (const r of d.put) p.ingressRules.set(r.no, r);
      return this.sendParts(p.ingress, cut<IngressConfigMsg>(version, { put: d.put, remove: d.remove }, MAX_FDS_PER_MESSAGE, { inputs, links: ingressLinks(plan) }, fds), false);
    });
    // 3: egress retires what is gone.
    await this.each((p) => {
      const { remove } = delta(p.egressRules, egressWant(p.index));
      for (const no of remove) {
        p.egressRules.delete(no);
        let s = this.retiring.get(no);
        if (!s) this.retiring.set(no, (s = new Set()));
        s.add(p.index);
      }
      const used = new Set([...p.egressRules.values()].flatMap((r) => r.outputs.map((o) => o.socket)));
      for (const k of p.egressSockets) if (!used.has(k)) p.egressSockets.delete(k);
      return this.sendParts(p.egress, cut<EgressConfigMsg>(version, { put: [], remove }, MAX_FDS_PER_MESSAGE), true);
    });
    this.sockets.keepOnly(new Set(plan.rules.flatMap((r) => r.outputs.map((o) => o.key))));
    return plan;
  }

  /** A replaced worker holds nothing: tell it everything. (Its pair's other worker is unchanged.) */
  async configureAfresh(p: Pair, role: "ingress" | "egress", plan: Plan): Promise<void> {
    const version = ++this.version;
    if (role === "egress") {
      for (const [no, waiting] of this.retiring) if (waiting.has(p.index)) this.retired(p.index, [no]); // the dead egress's are gone
      const sockets = this.openSockets(p, plan);
      const want = egressRules(plan, (o) => !this.failedOutputs.has(o.key), this.facts, (k) => !this.failedOutputs.has(k), this.sharing(p.index));
      for (const r of want) p.egressRules.set(r.no, r);
      for (const s of sockets) p.egressSockets.add(s.key);
      await this.sendParts(p.egress, cut<EgressConfigMsg>(version, { sockets, put: want, remove: [] }, MAX_FDS_PER_MESSAGE), true);
    } else {
      const { inputs, fds } = this.inputSpecs(p, plan);
      const want = ingressRules(plan, this.sharing(p.index));
      for (const r of want) p.ingressRules.set(r.no, r);
      await this.sendParts(p.ingress, cut<IngressConfigMsg>(version, { put: want, remove: [] }, MAX_FDS_PER_MESSAGE, { inputs, links: ingressLinks(plan) }, fds), false);
    }
  }

  private sharing(pair: number): Sharing {
    return { workers: this.pairs.length, pair, split: SPLIT };
  }

  private async each(fn: (p: Pair) => Promise<void>): Promise<void> {
    await Promise.all(this.pairs.map(fn));
  }

  private async sendParts<M extends EgressConfigMsg | IngressConfigMsg>(w: WorkerHandle, parts: Part<M>[], closeFds: boolean): Promise<void> {
    for (const part of parts) w.send(part.msg, part.fds, closeFds);
    await w.expect("applied", ANSWER_MS);
  }

  /** The interfaces ingress reads: rules' inputs, and the ends of open links; pair: the one pair
   *  that reads it (a redundant rule's input: configure.ts, pinnedInputs), else every pair. */
  private allInputs(plan: Plan): Map<string, { ifindex: number; link: boolean; pair?: number; shared: boolean }> {
    const m = new Map<string, { ifindex: number; link: boolean; pair?: number; shared: boolean }>();
    const pinned = pinnedInputs(plan, this.pairs.length);
    const shared = sharedInputs(plan, { workers: this.pairs.length, split: SPLIT });
    for (const [ifname, ifindex] of plan.inputs) m.set(ifname, { ifindex, link: false, shared: shared.has(ifname), ...(pinned.has(ifname) ? { pair: pinned.get(ifname) } : {}) });
    for (const w of linkWays(plan)) m.set(w.from, { ifindex: w.fromIfindex, link: true, shared: false });
    return m;
  }

  /** Opens (or closes) input sockets as the plan's inputs say, and joins their groups. A V2 ring
   *  whose frames no longer hold the interface's MTU is opened again (what its ring held is lost). */
  private openInputs(plan: Plan): void {
    const want = this.allInputs(plan);
    for (const [ifname, { ifindex, link, pair, shared }] of want) {
      const cur = this.inputs.get(ifname);
      const geometry = link ? linkGeometry(readMtu(ifname)) : inputGeometry(GEOMETRY, readMtu(ifname));
      // A pinned interface's one socket, and a shared one's sockets, are not in a fanout group: when
      // that changes, the sockets are opened again (frames in their rings then are lost; it happens
      // when a redundant rule comes or goes: whether an input is shared changes only with that).
      if (cur && cur.ifindex === ifindex && cur.link === link && cur.geometry.frameSize === geometry.frameSize && cur.pair === pair && cur.shared === shared) continue;
      if (cur) this.closeInput(cur);
      this.inputs.set(ifname, new InputSockets(ifname, ifindex, this.slots.take(), geometry, this.log, link, pair, shared));
    }
    for (const s of this.inputs.values()) if (!want.has(s.ifname)) this.closeInput(s);
    for (const s of this.inputs.values()) {
      const paths = plan.rules.filter((r) => r.matched).flatMap((r) => r.paths ?? [{ ifname: r.ifname, group: r.group, source: r.source }]);
      s.joins.update(paths.filter((p) => p.ifname === s.ifname && isMulticastIp(p.group)).map((p) => ({ group: p.group, source: p.source })));
    }
  }

  private closeInput(s: InputSockets): void {
    s.close();
    this.slots.give(s.slot);
    this.inputs.delete(s.ifname);
    for (const p of this.pairs) p.ingressInputs.delete(s.ifname);
  }

  /** Every input for the pair's ingress; a socket goes along where its ingress lacks one (a new
   *  input, or a replacement ingress, which then resumes the ring its predecessor read). */
  private inputSpecs(p: Pair, plan: Plan): { inputs: IngressInput[]; fds: number[] } {
    const fds: number[] = [];
    const inputs: IngressInput[] = [];
    const want = this.allInputs(plan);
    for (const [ifname, { pair }] of want) {
      if (pair !== undefined && pair !== p.index) continue; // another pair alone reads it
      const s = this.inputs.get(ifname)!;
      const spec: IngressInput = { ifname, ifindex: s.ifindex, slot: s.slot, geometry: s.geometry, ...(s.link ? { link: true } : {}), ...(s.shared ? { shared: true } : {}) };
      if (!p.ingressInputs.has(ifname)) {
        const { fd, fresh } = s.socketFor(p.index);
        spec.fd = fds.length;
        if (!fresh) spec.resume = true;
        fds.push(fd);
        p.ingressInputs.add(ifname);
      }
      inputs.push(spec);
    }
    for (const ifname of p.ingressInputs) if (!want.has(ifname) || !inputs.some((i) => i.ifname === ifname)) p.ingressInputs.delete(ifname);
    return { inputs, fds };
  }

  /** Opens the sockets the pair's egress lacks for the plan's outputs; remembers the outputs that
   *  cannot be opened (a raw output's interface socket serves all its raw outputs). */
  private openSockets(p: Pair, plan: Plan): { key: string; fd: number }[] {
    const out: { key: string; fd: number }[] = [];
    const seen = new Set<string>();
    const opening = new Set<string>();
    const split = splitRules(plan, this.sharing(p.index));
    for (const r of plan.rules) {
      if (!r.matched) continue;
      for (const o of r.outputs) {
        if (split.has(r.no) && o.index % this.pairs.length !== p.index) continue; // another egress sends it (and opens it)
        const key = socketKey(o);
        if (seen.has(o.key)) continue;
        seen.add(o.key);
        try {
          if (o.raw) this.sockets.sourcePort(o);
          if (!p.egressSockets.has(key) && !opening.has(key)) {
            out.push({ key, fd: this.sockets.open(o) });
            opening.add(key);
          }
          this.failedOutputs.delete(o.key);
        } catch (e) {
          const why = e instanceof ErrnoError ? e.code : (e as Error).message;
          if (!this.failedOutputs.has(o.key)) this.log.warn({ rule: r.id, output: o.key, err: (e as Error).message }, "output could not be opened");
          this.failedOutputs.set(o.key, why);
        }
      }
    }
    for (const w of linkWays(plan)) {
      const key = frameSocketKey(w.to, w.toIfindex);
      if (p.egressSockets.has(key) || opening.has(key)) continue;
      try {
        out.push({ key, fd: packetTxOpen(w.toIfindex, { vnetHdr: true }) });
        opening.add(key);
        this.failedOutputs.delete(key);
      } catch (e) {
        if (!this.failedOutputs.has(key)) this.log.warn({ interface: w.to, err: (e as Error).message }, "link end could not be opened for sending");
        this.failedOutputs.set(key, e instanceof ErrnoError ? e.code : (e as Error).message);
      }
    }
    return out;
  }

  /** The plan with join failures and unopenable outputs in its rules' states: a rule whose group
   *  is not joined is down (it forwards what still arrives); one that cannot send anywhere is
   *  down; one that sends on some of its outputs is active and says which fail. */
  private markProblems(plan: Plan): Plan {
    return {
      inputs: plan.inputs,
      links: plan.links.map((l) => {
        const bad = l.open ? l.ways.map((w) => frameSocketKey(w.to, w.toIfindex)).filter((k) => this.failedOutputs.has(k)) : [];
        if (!bad.length) return l;
        return { ...l, state: "down" as const, reason: [l.reason, ...bad.map((k) => `${k.slice(6, k.indexOf("#"))} could not be opened for sending: ${this.failedOutputs.get(k)}`)].filter(Boolean).join("; ") };
      }),
      rules: plan.rules.map((r) => {
        if (!r.matched) return r;
        const problems: string[] = [];
        const join = (r.paths ?? [r]).map((x) => this.inputs.get(x.ifname)?.joins.problem(x.group, x.source)).find((j) => j !== undefined);
        if (join) problems.push(`${join}; forwarding what arrives, retrying the join`);
        const bad = r.outputs.filter((o) => this.failedOutputs.has(o.key));
        for (const o of bad) problems.push(`output ${o.ifname} ${o.family === 6 ? `[${o.addr}]` : o.addr}:${o.port} could not be opened: ${this.failedOutputs.get(o.key)}`);
        if (!problems.length) return r;
        const down = join !== undefined || (r.outputs.length > 0 && bad.length === r.outputs.length);
        return { ...r, state: down ? ("down" as const) : r.state, reason: [r.reason, ...problems].filter(Boolean).join("; ") };
      }),
    };
  }

  close(): void {
    for (const s of [...this.inputs.values()]) this.closeInput(s);
    this.sockets.close();
  }
}
