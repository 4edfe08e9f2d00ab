// Health checks of the compose services (HEALTHCHECK runs `entrypoint.sh healthcheck ROLE`):
//   supervisor: <state-dir>/status.json says "ready" and its pid is alive
//   api:        GET /healthz answers 200 (the API reaches the supervisor and every worker is ready)
import { readFileSync } from "node:fs";
import { join } from "node:path";

const role = process.argv[2];
if (role === "supervisor") {
  const file = join(process.env.MCRELAY_STATE_DIR || "/run/mcrelay", "status.json");
  try {
    const st = JSON.parse(readFileSync(file, "utf8")) as { state: string; pid: number };
    process.kill(st.pid, 0);
    if (st.state !== "ready") throw new Error(`state ${st.state}`);
    process.exit(0);
  } catch (e) {
    console.error(`supervisor not healthy: ${(e as Error).message}`);
    process.exit(1);
  }
} else if (role === "api") {
  const listen = process.env.MCRELAY_API_LISTEN || "0.0.0.0:8080";
  const port = listen.slice(listen.lastIndexOf(":") + 1);
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`/healthz ${res.status} ${body}`);
    process.exit(0);
  } catch (e) {
    console.error(`api not healthy: ${(e as Error).message}`);
    process.exit(1);
  }
} else {
  console.error("usage: healthcheck supervisor|api");
  process.exit(2);
}
