// net.ipv4.ip_forward, which the namespace's traffic to the rest of the world needs. Turning it on
// changes more than one value: the kernel sets "default" and every interface's forwarding with it
// and clears all.accept_redirects. So all of those are recorded, once per network namespace: runs
// share it — the first to turn forwarding on records it, the last one to go puts it back.
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { JOURNAL_DIR } from "./journal.ts";

const CONF = "/proc/sys/net/ipv4/conf";
const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";

interface Snapshot {
  acceptRedirects: string;
  /** "default" and each interface's conf.<name>.forwarding */
  forwarding: Record<string, string>;
}

const read = (p: string) => readFileSync(p, "utf8").trim();
const snapshotFile = (netns: number) => join(JOURNAL_DIR, `forwarding-${netns}.json`);

/** With the journal's lock held: turns forwarding on if it is off; true if it did. */
export function forwardingOn(netns: number): boolean {
  if (read(IP_FORWARD) === "1") return false;
  const names = readdirSync(CONF).filter((n) => n !== "all");
  const snap: Snapshot = {
    acceptRedirects: read(`${CONF}/all/accept_redirects`),
    forwarding: Object.fromEntries(names.map((n) => [n, read(`${CONF}/${n}/forwarding`)])),
  };
  writeFileSync(snapshotFile(netns), JSON.stringify(snap) + "\n", { mode: 0o600 });
  writeFileSync(IP_FORWARD, "1");
  return true;
}

/** With the lock held, once no run is left in this namespace: puts back what forwardingOn
 *  recorded (interfaces made since get the old default, as they would have). False: nothing to. */
export function forwardingRestore(netns: number): boolean {
  const f = snapshotFile(netns);
  if (!existsSync(f)) return false;
  const snap = JSON.parse(readFileSync(f, "utf8")) as Snapshot;
  writeFileSync(IP_FORWARD, "0");
  for (const [name, value] of Object.entries(snap.forwarding)) {
    const p = `${CONF}/${name}/forwarding`;
    if (existsSync(p) && read(p) !== value) writeFileSync(p, value);
  }
  if (read(`${CONF}/all/accept_redirects`) !== snap.acceptRedirects) writeFileSync(`${CONF}/all/accept_redirects`, snap.acceptRedirects);
  rmSync(f, { force: true });
  return true;
}
