// Egress worker: sends what its core's ingress matched, through io_uring. One process per core.
// It takes nothing from the ring before its first configuration: a replacement egress that
// started sending without its rules would have nothing to send them to.
import type { EgressRule } from "../protocol/worker.ts";
import { ConfigParts, receive, scheduleOptions, send, startWorker, workerLogger } from "../worker.ts";
import { Schedule } from "../schedule.ts";
import { Egress } from "./egress.ts";

const { init, seg } = startWorker("egress");
const log = workerLogger("egress", init.index);
const schedule = new Schedule(scheduleOptions(init));
const eg = new Egress(seg, init.index, init.busyPoll ?? null, (e) => {
  if (e.up) log.info(e, e.silentMs > 0 ? `redundant path ${e.path} of rule ${e.rule} is up again after ${e.silentMs} ms` : `redundant path ${e.path} of rule ${e.rule} is up`);
  else log.warn(e, `redundant path ${e.path} of rule ${e.rule} is silent (nothing for ${e.silentMs} ms)`);
}, schedule);
send({ type: "ready", role: "egress", index: init.index, uid: process.getuid!() });
log.info({ uid: process.getuid!() }, "egress ready");

let stopping = false;
let drain = false;
let configured = false;
const parts = new ConfigParts<EgressRule>();
/** block: wait for a message (before the first configuration); otherwise read what waits. */
function control(block: boolean): void {
  for (let m = receive(!block); m !== null; m = receive(!(block && !configured && !stopping))) {
    if (m.msg.type === "config") {
      const cfg = parts.add(m.msg, m.fds);
      if (!cfg) continue;
      schedule.ordinary(); // applying it is not traffic: never as a real-time task
      eg.configure(cfg);
      configured = true;
      send({ type: "applied", version: cfg.version });
      log.info({ version: cfg.version, put: cfg.put.length, retiring: cfg.remove.length }, "config applied");
    } else if (m.msg.type === "drain") {
      drain = true;
    } else if (m.msg.type === "log-level") {
      log.level = m.msg.level;
    } else if (m.msg.type === "stop") {
      // Ingress has stopped before we are told to: drain what it left in the ring, then leave.
      stopping = true;
    }
    if (block && (configured || stopping)) break;
  }
}

while (!configured && !stopping) control(true);
for (;;) {
  if (configured) eg.run();
  control(false);
  const retired = eg.retire();
  if (retired.length) send({ type: "retired", nos: retired });
  if (drain && eg.idle()) {
    drain = false;
    send({ type: "drained" });
  }
  if (stopping && eg.idle()) break;
}
eg.close();
send({ type: "stopped" });
log.info(eg.summary(), "egress stopped");
process.exit(0);
