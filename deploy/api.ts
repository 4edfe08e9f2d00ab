// The REST API in its own container (compose service "api"): chooses the store from the
// environment, waits for PostgreSQL when it uses it, then runs services/api/main.ts in this
// process. The supervisor's control socket and state directory come through a shared volume.
//
//   MCRELAY_API_LISTEN       HOST:PORT inside the container (default 0.0.0.0:8080)
//   MCRELAY_STATE_DIR        the supervisor's state directory (default /run/mcrelay)
//   MCRELAY_API_STATE_DIR    SQLite database and generated token (default /var/lib/mcrelay-api)
//   DATABASE_URL             postgres://… : use PostgreSQL instead of SQLite
//   MCRELAY_COMPOSE_PROFILES compose's COMPOSE_PROFILES: with "postgres" or "fleet" and no DATABASE_URL,
//                            the compose "postgres" service (MCRELAY_PG_PASSWORD, db and user mcrelay)
import { join } from "node:path";

const env = process.env;
const listen = env.MCRELAY_API_LISTEN || "0.0.0.0:8080";
const stateDir = env.MCRELAY_API_STATE_DIR || "/var/lib/mcrelay-api";
const control = join(env.MCRELAY_STATE_DIR || "/run/mcrelay", "control.sock");

// compose passes unset variables as empty strings: to the API, empty means unset.
for (const k of Object.keys(env)) if (/^(OTEL_.*|TZ|MCRELAY_API_TOKEN)$/.test(k) && env[k] === "") delete env[k];

let url = env.DATABASE_URL || "";
const profiles = (env.MCRELAY_COMPOSE_PROFILES ?? "").split(",").map((p) => p.trim());
if (!url && (profiles.includes("postgres") || profiles.includes("fleet"))) {
  const password = env.MCRELAY_PG_PASSWORD || "mcrelay";
  url = `postgresql://mcrelay:${encodeURIComponent(password)}@postgres:5432/mcrelay`;
}
if (url) {
  env.DATABASE_URL = url;
  await waitForServer(url, 120_000);
} else delete env.DATABASE_URL; // an empty value from compose means SQLite

/** PostgreSQL may still be starting (first start: initdb): wait until its port accepts. */
async function waitForServer(databaseUrl: string, ms: number): Promise<void> {
  let host: string, port: number;
  try {
    const u = new URL(databaseUrl);
    host = u.hostname;
    port = Number(u.port || 5432);
  } catch {
    return; // main.ts reports a malformed URL
  }
  if (!host) return; // Unix socket (?host=/path): nothing to wait for here
  const deadline = Date.now() + ms;
  let said = false;
  for (;;) {
    try {
      const s = await Bun.connect({ hostname: host, port, socket: { data() {} } });
      s.end();
      return;
    } catch (e) {
      if (Date.now() > deadline) {
        console.error(`mcrelay api: ${host}:${port} does not accept connections (${(e as Error).message}); starting anyway`);
        return;
      }
      if (!said) console.error(`mcrelay api: waiting for PostgreSQL at ${host}:${port}`);
      said = true;
      await Bun.sleep(500);
    }
  }
}

process.argv = [process.argv[0]!, join(import.meta.dir, "..", "services", "api", "main.ts"),
  "--listen", listen, "--state-dir", stateDir, "--control", control, ...process.argv.slice(2)];
await import("../services/api/main.ts");
