// The bearer token: MCRELAY_API_TOKEN, or one generated on first start into the state directory
// (0600; its path is logged, never the token). It is compared in constant time.
import { randomBytes, timingSafeEqual, createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export function loadToken(stateDir: string, print: (line: string) => void): string {
  const fromEnv = process.env.MCRELAY_API_TOKEN;
  if (fromEnv) {
    if (fromEnv.length < 16) throw new Error("MCRELAY_API_TOKEN must be at least 16 characters");
    return fromEnv;
  }
  const file = join(stateDir, "api-token");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const token = randomBytes(24).toString("base64url");
  writeFileSync(file, token + "\n", { mode: 0o600, flag: "wx" });
  // The token itself never goes to a log: logs are read by more people than the file is.
  print(`generated an API token into ${file} (mode 0600: the relay user and root can read it)`);
  return token;
}

/** Hashing both sides first makes the comparison constant-time whatever the lengths. */
export function tokenMatches(given: string, token: string): boolean {
  const h = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(h(given), h(token));
}
