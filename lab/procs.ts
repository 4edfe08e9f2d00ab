// Running the lab's processes (generator, sink) inside namespaces, for the demo and the tests.
import { join } from "node:path";
import type { Lab } from "./netns.ts";

export const ROOT = join(import.meta.dir, "..");
export const BUN = process.execPath;

/** Reads a piped stream to the end in the background, so the child never blocks on a full pipe. */
export function collect(stream: ReadableStream<Uint8Array>): { text: () => string; done: Promise<void> } {
  let text = "";
  const dec = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) text += dec.decode(chunk, { stream: true });
  })();
  return { text: () => text, done };
}

/** Runs a sink in ns until it ends; `ready` resolves once it has joined. */
export function startSink(lab: Lab, ns: string, args: string[]) {
  const p = lab.spawn(ns, [BUN, "lab/sink.ts", "--json", ...args], { cwd: ROOT });
  const out = collect(p.stdout);
  const err = collect(p.stderr);
  const ready = (async () => {
    const deadline = Date.now() + 10_000;
    while (!err.text().includes("ready")) {
      if (p.exitCode !== null || Date.now() > deadline) throw new Error(`sink did not get ready: ${err.text()}`);
      await Bun.sleep(20);
    }
  })();
  const result = (async () => {
    await p.exited;
    await out.done;
    try {
      return JSON.parse(out.text());
    } catch {
      throw new Error(`sink printed no report (exit ${p.exitCode}): ${out.text()} ${err.text()}`);
    }
  })();
  return { ready, result };
}

/** A generator running in the background: stop() ends it by pid and returns its report. */
/** A generator that runs until stopped (unless args give a --count). */
export function spawnGen(lab: Lab, ns: string, args: string[]) {
  const p = lab.spawn(ns, [BUN, "lab/gen.ts", "--json", ...(args.includes("--count") ? [] : ["--count", "0"]), ...args], { cwd: ROOT });
  const out = collect(p.stdout);
  const err = collect(p.stderr);
  const done = (async () => {
    await p.exited;
    await Promise.all([out.done, err.done]);
    try {
      return JSON.parse(out.text());
    } catch {
      throw new Error(`gen printed no report (exit ${p.exitCode}): ${err.text()}`);
    }
  })();
  return { pid: p.pid, done, stop: () => (p.kill("SIGTERM"), done) };
}

/** Runs the generator in ns to completion. */
export async function runGen(lab: Lab, ns: string, args: string[]): Promise<any> {
  const p = lab.spawn(ns, [BUN, "lab/gen.ts", "--json", ...args], { cwd: ROOT });
  const out = collect(p.stdout);
  const err = collect(p.stderr);
  const code = await p.exited;
  await Promise.all([out.done, err.done]);
  if (code !== 0) throw new Error(`gen failed (${code}): ${err.text()}`);
  return JSON.parse(out.text());
}

