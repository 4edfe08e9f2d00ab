// Egress worker: sends what its core's ingress matched, through io_uring. One process per core.
import type { EgressConfigMsg } from "../protocol/worker.ts";
import { receive, send, startWorker, workerLogger } from "../worker.ts";
import { Egress } from "./egress.ts";

const { init, seg } = startWorker("egress");
const log = workerLogger("egress", init.index);
const eg = new Egress(seg, init.index);
send({ type: "ready", role: "egress", index: init.index, uid: process.getuid!() });
log.info({ uid: process.getuid!() }, "egress ready");

let stopping = false;
let drain = false;
function control(): void {
  for (let m = receive(true); m !== null; m = receive(true)) {
    if (m.msg.type === "config") {
      const cfg = m.msg as EgressConfigMsg;
      eg.configure(cfg, m.fds);
      send({ type: "applied", version: cfg.version });
      log.info({ version: cfg.version, rules: cfg.rules.length }, "config applied");
    } else if (m.msg.type === "drain") {
      drain = true;
    } else if (m.msg.type === "log-level") {
      log.level = m.msg.level;
    } else if (m.msg.type === "stop") {
      // Ingress has stopped before we are told to: drain what it left in the ring, then leave.
      stopping = true;
    }
  }
}

for (;;) {
  eg.run();
  control();
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
