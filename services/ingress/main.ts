// Ingress worker: drains its AF_PACKET rings, matches, copies payloads into pool slots and
// pushes slot indices to the egress of its core. One process per core.
import type { IngressRule } from "../protocol/worker.ts";
import { CONTROL_FD } from "../protocol/worker.ts";
import { ConfigParts, receive, scheduleOptions, send, startWorker, workerLogger } from "../worker.ts";
import { Schedule } from "../schedule.ts";
import { Ingress } from "./ingress.ts";

const { init, seg } = startWorker("ingress");
const log = workerLogger("ingress", init.index);
const schedule = new Schedule(scheduleOptions(init));
const ing = new Ingress(seg, init.index, CONTROL_FD, init.replacesDeadIngress === true, init.busyPoll ?? null, schedule);
send({ type: "ready", role: "ingress", index: init.index, uid: process.getuid!() });
log.info({ uid: process.getuid!() }, "ingress ready");

let stopping = false;
let paused = false;
const parts = new ConfigParts<IngressRule>();
function control(): void {
  for (let m = receive(true); m !== null; m = receive(true)) {
    if (m.msg.type === "config") {
      const cfg = parts.add(m.msg, m.fds);
      if (!cfg) continue;
      schedule.ordinary(); // applying it is not traffic: never as a real-time task
      ing.configure(cfg.inputs, cfg.links, cfg.put, cfg.remove, cfg.fds);
      send({ type: "applied", version: cfg.version });
      log.info({ version: cfg.version, inputs: cfg.inputs.length, put: cfg.put.length, removed: cfg.remove.length }, "config applied");
    } else if (m.msg.type === "reclaim") {
      paused = true;
      const slots = ing.reclaim();
      send({ type: "reclaimed", slots });
      log.warn({ slots }, "egress died: paused and took back its slots (counted as worker_restart)");
    } else if (m.msg.type === "resume") {
      paused = false;
      send({ type: "resumed" });
    } else if (m.msg.type === "log-level") {
      log.level = m.msg.level;
    } else if (m.msg.type === "stop") {
      stopping = true;
    }
  }
}

while (!stopping) {
  if (paused) {
    ing.idleWait(100); // frames wait in the kernel's ring meanwhile
    control();
  } else ing.run(control);
}
ing.close();
send({ type: "stopped" });
log.info(ing.summary(), "ingress stopped");
process.exit(0);
