// Reading what the relay put on the wire, from the far ends of its links: tests/tools/capture.ts
// (the UDP frames, per destination) and tests/tools/reports.ts (IGMP and MLD membership reports).
import type { Lab } from "../../lab/netns.ts";
import { BUN, ROOT, collect } from "./relay.ts";
import type { Report } from "../tools/reports.ts";

function tool<T>(lab: Lab, ns: string, script: string, ifaces: string[], ms: number) {
  const runs = ifaces.map((i) => {
    const p = lab.spawn(ns, [BUN, script, "--interface", i, "--ms", String(ms)], { cwd: ROOT });
    return { out: collect(p.stdout), err: collect(p.stderr), p };
  });
  return {
    /** every capture has its socket open */
    ready: async () => {
      while (!runs.every((c) => c.err.text().includes("ready"))) await Bun.sleep(20);
    },
    /** once the time is over: each capture's report */
    results: () => Promise.all(runs.map(async (c) => {
      await c.p.exited;
      await c.out.done;
      return JSON.parse(c.out.text()) as T;
    })),
  };
}

/** Captures UDP on the interfaces; `wire()` waits for them to end and merges their reports, by "group:port". */
export function capture(lab: Lab, ns: string, ifaces: string[], ms: number) {
  const t = tool<Record<string, any>>(lab, ns, "tests/tools/capture.ts", ifaces, ms);
  return { ready: t.ready, wire: async (): Promise<Record<string, any>> => Object.assign({}, ...(await t.results())) };
}

/** Captures the membership reports arriving on one interface for ms. */
export function reports(lab: Lab, ns: string, iface: string, ms: number) {
  const t = tool<Report[]>(lab, ns, "tests/tools/reports.ts", [iface], ms);
  return { ready: t.ready, reports: async (): Promise<Report[]> => (await t.results())[0]! };
}

/** The records of the reports about one group, in order: [record type, sources]. */
export function recordsFor(rs: Report[], group: string): [number, string[]][] {
  return rs.flatMap((r) => (r.records ?? []).filter((x) => x.group === group).map((x) => [x.type, x.sources] as [number, string[]]));
}

/** Record types of IGMPv3 and MLDv2 reports (RFC 3376, RFC 3810). */
export const RECORD = { MODE_IS_INCLUDE: 1, MODE_IS_EXCLUDE: 2, CHANGE_TO_INCLUDE: 3, CHANGE_TO_EXCLUDE: 4, ALLOW_NEW_SOURCES: 5, BLOCK_OLD_SOURCES: 6 } as const;

/** Frames as a well-formed relay sends them: the counters capture.ts keeps that must be 0. */
export const CLEAN = { badIpSum: 0, badUdpSum: 0, badLength: 0, badMac: 0, fragments: 0, badPayload: 0 };
