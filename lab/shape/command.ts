// COMMAND, in the namespace: as the sudo caller (their uid, gid, groups, HOME, USER, LOGNAME) or
// as root, with the terminal passed through, and a parent-death signal so that it does not outlive
// a shape that was killed. It stays in shape's process group: Ctrl-C in the terminal reaches it directly.
import { accessSync, constants as fs, readFileSync } from "node:fs";
import { constants } from "node:os";
import { run } from "../netns.ts";
import type { ShapeOptions } from "./options.ts";

/** The passwd entry of a uid (through NSS, as sudo found it), or null. */
function passwd(uid: number): { name: string; home: string } | null {
  const r = run(["getent", "passwd", String(uid)]);
  const f = r.stdout.trim().split(":");
  return r.code === 0 && f.length >= 7 ? { name: f[0]!, home: f[5]! } : null;
}

/** Whether COMMAND can be run: an executable path, or a name on PATH (what exec will search). */
export function findCommand(cmd: string, path: string): boolean {
  if (!cmd.includes("/")) return Bun.which(cmd, { PATH: path }) !== null;
  try {
    accessSync(cmd, fs.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function spawnCommand(o: ShapeOptions, ns: string, extraEnv: Record<string, string>): Bun.Subprocess<"inherit", "inherit", "inherit"> {
  const env: Record<string, string | undefined> = { ...process.env, ...extraEnv };
  const who: string[] = [];
  if (o.user) {
    const pw = passwd(o.user.uid);
    who.push(`--reuid=${o.user.uid}`, `--regid=${o.user.gid}`, pw ? "--init-groups" : "--clear-groups");
    if (pw) Object.assign(env, { HOME: pw.home, USER: pw.name, LOGNAME: pw.name });
  }
  return Bun.spawn(["ip", "netns", "exec", ns, "setpriv", ...who, "--pdeathsig", "TERM", "--", ...o.command],
    { env, stdin: "inherit", stdout: "inherit", stderr: "inherit" });
}

/** The shell's convention: the exit code, or 128 + N for a process that signal N ended. */
export function exitStatus(p: Bun.Subprocess): number {
  if (p.exitCode !== null) return p.exitCode;
  const n = p.signalCode ? constants.signals[p.signalCode as keyof typeof constants.signals] : undefined;
  return 128 + (n ?? 0);
}

/** Whether shape runs in the foreground of a terminal: then a SIGINT it gets came from that
 *  terminal, which sent it to COMMAND too (same process group), so it is not passed on again.
 *  /proc/self/stat: field 5 is the process group, 7 the terminal, 8 its foreground group. */
export function inForeground(): boolean {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return f[4] !== "0" && f[5] === f[2];
}
