// Reading a relay's /metrics the way a scraper does.
import { expect } from "bun:test";
import type { TestRelay } from "./relay.ts";

/** The value of the first sample of `name` whose labels include `labels`. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

export async function metricsText(r: TestRelay): Promise<string> {
  const res = await fetch("http://relay/metrics", { headers: { authorization: `Bearer ${r.token}` }, unix: r.apiSocket } as RequestInit);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  return res.text();
}
