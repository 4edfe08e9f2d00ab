// `mcrelay shape [flags] -- COMMAND…`: COMMAND in a throw-away network namespace whose only way out
// is a link through mcrelay (topology.ts draws it). Every change is written into the run's journal
// before it is made, and one function undoes a journal: on COMMAND's exit, on a signal, on a
// failure — and, for a run that was killed, at the start of the next one.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { constants } from "node:os";
import { lookupUser } from "../../services/supervisor/workers.ts";
import { DEFAULT_USER } from "../../services/startup/start.ts";
import type { LinkStats } from "../../shm/stats.ts";
import { must } from "../netns.ts";
import { cleanStale, finishRun, undoRun } from "./cleanup.ts";
import { exitStatus, findCommand, inForeground, spawnCommand } from "./command.ts";
import { forwardingOn } from "./forwarding.ts";
import { currentNetns, journalExists, procRef, withLock, writeJournal, type Journal } from "./journal.ts";
import { MissingTool, natSteps, natTool } from "./nat.ts";
import { ConfigError, SHAPE_USAGE, parseShape } from "./options.ts";
import { makeStateDir, RelayFailed, ShapeRelay } from "./relay.ts";
import { hostResolv } from "./resolv.ts";
import { RANGES, hostPrefixes, pickSubnet, type Subnet } from "./subnet.ts";
import { INSIDE_IF, build, names, type Names } from "./topology.ts";

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;
type Signal = (typeof SIGNALS)[number];

/** A signal that came during set-up: the run ends there. */
class Interrupted extends Error {
  constructor(readonly signal: Signal) {
    super(`interrupted (${signal}) while setting up`);
  }
}

const line = (l: string) => process.stderr.write(`mcrelay shape: ${l}\n`);

function freshNames(): Names {
  for (;;) {
    const n = names(Math.floor(Math.random() * 0x1000000).toString(16).padStart(6, "0"));
    if (!existsSync(`/run/netns/${n.ns}`) && ![n.a, n.b, n.h].some((i) => existsSync(`/sys/class/net/${i}`)) && !journalExists(n.id)) return n;
  }
}

const describeWay = (w: LinkStats["aToB"]) => {
  const sum = (k: "rxPackets" | "txPackets") => w[k] + w.flows.reduce((a, f) => a + f[k], 0);
  const drops = [w.drops, ...w.flows.map((f) => f.drops)].reduce((a, d) => a + Object.values(d).reduce((x, y) => x + y, 0), 0);
  return `${sum("rxPackets")} frames in, ${sum("txPackets")} out, ${drops} dropped`;
};

export async function main(argv: string[]): Promise<number> {
  const o = parseShape(argv);
  if (!o) {
    console.log(SHAPE_USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) throw new ConfigError("shape needs root (a network namespace, veths, forwarding and NAT): run it with sudo, and COMMAND runs as you");
  try {
    lookupUser(DEFAULT_USER);
  } catch (e) {
    throw new ConfigError(`the relay's workers run as ${DEFAULT_USER}: ${(e as Error).message.replace(/ \(--user\)$/, "")} (make setup creates it)`);
  }
  if (!findCommand(o.command[0]!, process.env.PATH ?? "")) {
    line(`${o.command[0]}: command not found`);
    return 127;
  }
  let nat: ReturnType<typeof natTool>;
  try {
    nat = natTool(o.nat);
  } catch (e) {
    if (!(e instanceof MissingTool)) throw e;
    line(e.message);
    return 1;
  }
  const say = o.verbose ? line : () => {};

  const n = freshNames();
  const j: Journal = { id: n.id, owner: procRef(process.pid), hostNetns: currentNetns(), ifaces: [], undo: [] };
  let relay: ShapeRelay | null = null;
  let cmd: Bun.Subprocess | null = null;
  let pending: Signal | null = null;
  let ending = false;
  let relayDied = false;
  let killTimer: Timer | null = null;

  // Before COMMAND runs a signal ends the set-up; afterwards it is COMMAND's (SHAPE_USAGE, Signals).
  const stopCommand = (sig: Signal) => {
    cmd?.kill(sig);
    killTimer ??= setTimeout(() => cmd?.kill("SIGKILL"), 3000);
  };
  const onSignal = (sig: Signal) => {
    if (ending) return;
    if (!cmd) pending ??= sig;
    else if (sig === "SIGINT" || sig === "SIGQUIT") {
      if (!inForeground()) cmd.kill(sig);
    } else stopCommand(sig);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  const check = () => {
    if (pending) throw new Interrupted(pending);
  };

  let code: number;
  try {
    const s = withLock((): Subnet => {
      cleanStale(line);
      const subnet = pickSubnet(hostPrefixes());
      if (!subnet) throw new Error(`no free /30 in ${RANGES.join(", ")}: routes or addresses of the host overlap every one`);
      writeJournal(j);
      build(n, subnet, (m) => {
        if ("ns" in m) j.ns = m.ns;
        else j.ifaces.push(m.iface);
        writeJournal(j);
      });
      say(forwardingOn(j.hostNetns) ? "net.ipv4.ip_forward was 0: set to 1 until the last shape run here ends" : "net.ipv4.ip_forward is 1 already: left as it is");
      return subnet;
    });
    check();
    for (const step of natSteps(nat, n.id, s.cidr, n.h)) {
      j.undo.push(step.undo);
      writeJournal(j);
      if (step.argv) must(step.argv, step.stdin);
    }
    const resolv = hostResolv();
    if (resolv && "problem" in resolv) line(`warning: ${resolv.problem}`);
    else if (resolv) {
      j.resolv = { dir: `/etc/netns/${n.ns}`, madeParent: !existsSync("/etc/netns") };
      writeJournal(j);
      mkdirSync(j.resolv.dir, { recursive: true });
      writeFileSync(join(j.resolv.dir, "resolv.conf"), resolv.conf);
    }
    check();
    j.stateDir = makeStateDir();
    writeJournal(j);
    const link = { ...o.link, a: n.a, b: n.b };
    relay = new ShapeRelay(j.stateDir, link);
    j.relay = procRef(relay.proc.pid);
    writeJournal(j);
    say(`namespace ${n.ns}: ${INSIDE_IF} ${s.inside}/30, default route via the host side ${s.host} (${n.h}); ` +
      `link ${n.a} ⇄ ${n.b}: aToB (inside → host) ${JSON.stringify(link.aToB ?? {})}, bToA (host → inside) ${JSON.stringify(link.bToA ?? {})}` +
      `${link.flows?.length ? `, ${link.flows.length} flows` : ""}; NAT with ${nat.tool}`);
    await relay.ready(() => pending !== null);
    check();
    say(`relay pid ${relay.proc.pid}, state dir ${j.stateDir}; running ${JSON.stringify(o.command)}`);
    const p = (cmd = spawnCommand(o, n.ns, { MCRELAY_SHAPE_ADDR: s.inside, MCRELAY_SHAPE_HOST: s.host }));
    const r = relay;
    void r.proc.exited.then(() => {
      if (ending || p.exitCode !== null || p.signalCode !== null) return;
      relayDied = true;
      line(`the relay exited (${r.proc.exitCode ?? r.proc.signalCode}) while COMMAND ran, taking the link with it: stopping COMMAND\n${r.tail()}`);
      stopCommand("SIGTERM");
    });
    await p.exited;
    code = relayDied ? 1 : exitStatus(p);
    if (o.verbose) {
      const c = relay.counters();
      if (c) say(`link: inside → host ${describeWay(c.aToB)}; host → inside ${describeWay(c.bToA)}`);
    }
  } catch (e) {
    if (e instanceof Interrupted) code = 128 + constants.signals[e.signal];
    else {
      line((e as Error).message);
      code = e instanceof RelayFailed ? e.code : 1;
    }
  } finally {
    ending = true;
    if (killTimer) clearTimeout(killTimer);
  }
  const problems = [...undoRun(j), ...finishRun(j)];
  for (const p of problems) line(`cleaning up: ${p}`);
  say(`removed namespace ${n.ns}, ${j.ifaces.join(", ") || "no veths"}, NAT and firewall changes (${j.undo.length}), the relay and its state dir`);
  for (const s of SIGNALS) process.off(s, onSignal);
  return code;
}
