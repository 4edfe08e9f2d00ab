// Ad-hoc: where do copies go missing? (not part of the bench)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startRelay, type RelayName } from "./relays.ts";
import { fanTopology } from "./topology.ts";
import { members, runTrial } from "./trial.ts";
import { cleanupAll, run } from "../relay/proc.ts";
import { exec } from "../relay/topology.ts";
import { readStats } from "../../services/protocol/status.ts";

const repo = join(import.meta.dir, "../..");
const name = (Bun.argv[2] ?? "mcrelay") as RelayName;
const rate = Number(Bun.argv[3] ?? 50000);
const size = Number(Bun.argv[4] ?? 1400);
const n = 4;
const softnet = () => readFileSync("/proc/net/softnet_stat", "utf8").trim().split("\n").map((l) => parseInt(l.split(/\s+/)[1]!, 16));
try {
  const topo = fanTopology(n);
  const outputs = topo.outs.map((o) => ({ ifname: o.ifname, addr: o.addr, group: "239.2.0.2", port: 5002 }));
  const dir = `/tmp/probe/${name}-${Date.now()}`;
  run(["mkdir", "-p", dir]);
  const held = await members(topo.dst.name, repo, topo.outs.map((o) => `${o.peer}:239.2.0.2`), join(dir, "m.log"));
  const relay = await startRelay(name, { ns: topo.rly.name, pidInNs: topo.rly.pid, input: { ifname: topo.input, group: "239.1.1.1", port: 5001 }, outputs, ttl: 8 }, dir, { repo, workers: 1 });
  console.log("trial starting");
  const s0 = softnet();
  const t = await runTrial({ relay: name, n, src: { ns: topo.src.name, pid: topo.src.pid, addr: topo.srcAddr }, dstPid: topo.dst.pid, group: "239.1.1.1", port: 5001, ttl: 8, size, rate, seconds: Number(Bun.argv[5] ?? 3), log: join(dir, "iperf.log") }, relay);
  const s1 = softnet();
  console.log(JSON.stringify(t));
  console.log("softnet drops per cpu", s1.map((x, i) => x - s0[i]!));
  console.log(run(exec(topo.rly.name, ["ip", "-s", "link"])).split("\n").filter((l) => /o\d|RX|TX|^\s+\d/.test(l)).join("\n"));
  console.log(run(exec(topo.dst.name, ["ip", "-s", "link"])).split("\n").filter((l) => /d\d|RX|TX|^\s+\d/.test(l)).join("\n"));
  if (name.startsWith("mcrelay")) {
    const st = readStats(join(dir, "state"));
    console.log(JSON.stringify({ rule: st.rules[0], drops: st.drops, eg: st.workers[0]!.egress, ing: st.workers[0]!.ingress }));
  }
  await relay.stop();
  await held.stop();
} finally {
  cleanupAll();
}
