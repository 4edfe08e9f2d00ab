// The CLI as a user runs it: `bun bin/mcrelay.ts …` as a subprocess against a TestRelay.
import { BUN, ROOT, type TestRelay } from "./relay.ts";

/** How the CLI finds the API: flags (--api unix:… --token …), the state directory, or only what the args say. */
export type Conn = "flags" | "state-dir" | "none";

export async function runCli(r: TestRelay, args: string[], o: { conn?: Conn; env?: Record<string, string>; stdin?: string } = {}) {
  const conn = o.conn ?? "flags";
  const how = conn === "flags" ? ["--api", `unix:${r.apiSocket}`, "--token", r.token] : conn === "state-dir" ? ["--state-dir", r.stateDir] : [];
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of ["MCRELAY_API", "MCRELAY_API_TOKEN", "VISUAL", "EDITOR"]) delete env[k];
  Object.assign(env, o.env);
  const p = Bun.spawn([BUN, "bin/mcrelay.ts", ...args, ...how], {
    cwd: ROOT, env, stdin: o.stdin === undefined ? "ignore" : new Blob([o.stdin]), stdout: "pipe", stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}
