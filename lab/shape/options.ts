// `mcrelay shape`'s flags and variables, checked before anything is made: a bad one is exit 2
// with one line naming it (as `start` does). The link's fields are rules/link.ts's; the flags only
// fill them in, and the schema's own messages say what is wrong with a value.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { describeIssue } from "../../rules/load.ts";
import { linkSchema, type Link } from "../../rules/link.ts";
import type { Impairment } from "../../rules/schema.ts";
import { ConfigError, readEnvironment } from "../../services/startup/environment.ts";

export { ConfigError };

/** The flags that set an impairment field, in both directions alike. */
const FLAG_FIELDS = { loss: "loss", delay: "delayMs", jitter: "jitterMs", rate: "rateBps" } as const satisfies Record<string, keyof Impairment>;
type Flag = keyof typeof FLAG_FIELDS;

export const NAT_TOOLS = ["nft", "iptables"] as const;
export type NatTool = (typeof NAT_TOOLS)[number];

export const SHAPE_USAGE = `usage: mcrelay shape [--loss P] [--delay MS] [--jitter MS] [--rate BPS] [--link-config FILE] [-v] -- COMMAND [ARG…]
  Runs COMMAND in a throw-away network namespace whose only way out is a link through mcrelay,
  impaired as the flags say, and removes everything again when COMMAND ends (also on Ctrl-C,
  SIGTERM or a failure). Needs root; under sudo, COMMAND runs as the invoking user (SUDO_UID,
  SUDO_GID, with that user's groups, HOME, USER and LOGNAME). Exit code: COMMAND's (128+N if a
  signal N ended it); 2 for a bad flag or variable, 127 if COMMAND is not found, 1 if shape itself fails.

  Each flag applies to both directions, each getting the flag's value: --delay 50 adds 50 ms going
  out and 50 ms coming back (a ping's round trip grows by 100 ms); --loss 0.1 drops 10% each way.
  --loss P            drop each frame with probability P, 0–1 (or a percentage: 10%)
  --delay MS          hold each frame MS milliseconds, 0–10000
  --jitter MS         vary the delay by ± MS (uniform; it can reorder frames, as a real path does)
  --rate BPS          shape to BPS bits per second (suffix k, M or G: 10M), queueing, then tail-drop
  --link-config FILE  the link as JSON instead of the flags: rules/link.ts's link object without
                      "a" and "b" (shape makes those): "aToB" is inside → host (what COMMAND sends),
                      "bToA" host → inside, each loss, duplicate, delayMs, jitterMs, reorder, ratePps,
                      rateBps, seed; and "flows", e.g. {"aToB":{"loss":0.2,"seed":7},"flows":[…]}
  -v, --verbose       say on stderr what was made (namespace, addresses, relay) and the link's counters at the end
  --help              this text

  Inside: eth0 with an address of a free /30 (from 10.213.0.0/16, else 172.30.213.0/24 or
  192.168.213.0/24; none that a route or address of the host overlaps), the default route via the
  /30's other address on the host side, lo up, IPv6 off, TX checksum, TSO and GSO offloads off (so
  each frame on the link is one wire frame). COMMAND finds the addresses in MCRELAY_SHAPE_ADDR
  (its own) and MCRELAY_SHAPE_HOST (the host side: ping it to see the link alone), e.g.
    sudo mcrelay shape --delay 50 -- sh -c 'ping -c 5 "$MCRELAY_SHAPE_HOST"'
  Traffic to anything else the host reaches is forwarded and masqueraded to the host's address.

  On the host, while it runs (and undone exactly when it ends): the namespace mcrelay-shape-<id>;
  veths shp<id>a and shp<id>b (the link's ends, no address) and shp<id>h (the host side); the relay
  (mcrelay start --no-api, a temporary state directory); net.ipv4.ip_forward 1 if it was 0 (put
  back, with what the kernel changes with it, once no other shape runs there); NAT: an nftables
  table "ip mcrelay_shape_<id>" (or one iptables nat POSTROUTING rule); where a FORWARD chain's
  policy is drop (Docker's), two ACCEPT rules for shp<id>h at its top; /etc/netns/<ns>/resolv.conf
  when the host's resolver is on loopback. Each is written in /run/mcrelay-shape/ before it is
  made; the leftovers of a shape killed with SIGKILL are removed by the next one.

  Signals: Ctrl-C reaches COMMAND from the terminal (a SIGINT sent to shape with kill is passed
  on); shape ends when COMMAND does, stopping what it left running in the namespace. SIGTERM and
  SIGHUP are passed on, and 3 s later COMMAND is killed. If the relay stops, so is COMMAND (exit 1).

  Variables: MCRELAY_SHAPE_NAT=nft|iptables picks the NAT tool (default nft if installed, else
  iptables; Debian 12: apt-get install nftables, which scripts/setup.sh does); the relay's own
  (MCRELAY_TUNE_*, MCRELAY_LOG_LEVEL, …) are checked as start checks them.`;

export interface ShapeOptions {
  /** the link without its ends: shape makes the interfaces and fills in a and b */
  link: Omit<Link, "a" | "b">;
  command: string[];
  verbose: boolean;
  /** whom COMMAND runs as: the sudo caller, or null for root */
  user: { uid: number; gid: number } | null;
  /** the NAT tool asked for (MCRELAY_SHAPE_NAT), or null: whichever is installed */
  nat: NatTool | null;
}

/** Stand-ins for the link's ends while checking it; the real names are made later. */
const ENDS = { a: "inside", b: "host" };

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const SI = { "": 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9 } as const;

function flagValue(flag: Flag, s: string): number {
  if (flag === "loss" && s.endsWith("%") && NUMBER.test(s.slice(0, -1))) return Number(s.slice(0, -1)) / 100;
  if (flag === "rate") {
    const m = /^(.*?)([kKMG]?)$/.exec(s)!;
    if (NUMBER.test(m[1]!)) return Number(m[1]) * SI[m[2] as keyof typeof SI];
  } else if (NUMBER.test(s)) return Number(s);
  const what = { loss: "a probability 0–1 or a percentage", delay: "a number of milliseconds", jitter: "a number of milliseconds", rate: "bits per second, e.g. 10M" }[flag];
  throw new ConfigError(`--${flag} must be ${what}, got "${s}"`);
}

/** The link a --link-config file gives, checked by linkSchema (errors name the field). */
function readLinkConfig(file: string): Omit<Link, "a" | "b"> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`--link-config ${file}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`--link-config ${file}: not JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(`--link-config ${file}: must be a JSON object (a link)`);
  for (const end of ["a", "b"] as const) {
    if (end in raw) throw new ConfigError(`--link-config ${file}: field ${end}: leave "a" and "b" out, shape makes the link's ends (a inside, b on the host side)`);
  }
  return checkLink({ ...raw }, (issue) => `--link-config ${file}: ${describeIssue(raw, issue)}`);
}

function checkLink(raw: object, describe: (issue: Parameters<typeof describeIssue>[1]) => string): Omit<Link, "a" | "b"> {
  const r = linkSchema.safeParse({ ...raw, ...ENDS });
  if (!r.success) throw new ConfigError(describe(r.error.issues[0]!));
  const { a: _a, b: _b, ...link } = r.data;
  return link;
}

function sudoUser(env: Record<string, string | undefined>): ShapeOptions["user"] {
  const uid = env.SUDO_UID, gid = env.SUDO_GID;
  if (!uid) return null;
  if (!/^\d+$/.test(uid)) throw new ConfigError(`SUDO_UID must be a user id (digits), got "${uid}"`);
  if (!gid || !/^\d+$/.test(gid)) throw new ConfigError(`SUDO_GID must be a group id (digits) when SUDO_UID is set, got "${gid ?? ""}"`);
  return Number(uid) === 0 ? null : { uid: Number(uid), gid: Number(gid) };
}

/** Parses and checks the flags and variables; null for --help. */
export function parseShape(argv: string[], env: Record<string, string | undefined> = process.env): ShapeOptions | null {
  const cut = argv.indexOf("--");
  const own = cut < 0 ? argv : argv.slice(0, cut);
  const command = cut < 0 ? [] : argv.slice(cut + 1);
  let v, positionals;
  try {
    ({ values: v, positionals } = parseArgs({
      args: own, strict: true, allowPositionals: true,
      options: {
        loss: { type: "string" }, delay: { type: "string" }, jitter: { type: "string" }, rate: { type: "string" },
        "link-config": { type: "string" }, verbose: { type: "boolean", short: "v", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    // parseArgs' advice to put an unknown option after "--" would make it part of COMMAND.
    throw new ConfigError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
  if (v.help) return null;
  if (positionals.length) throw new ConfigError(`unexpected "${positionals[0]}": COMMAND goes after --, e.g. mcrelay shape --delay 50 -- ping 10.0.0.1`);
  if (!command.length) throw new ConfigError(`no COMMAND: give it after --, e.g. mcrelay shape --delay 50 -- ping 10.0.0.1`);
  const given = (Object.keys(FLAG_FIELDS) as Flag[]).filter((f) => v[f] !== undefined);
  let link: ShapeOptions["link"];
  if (v["link-config"] !== undefined) {
    if (given.length) throw new ConfigError(`--link-config gives the whole link: it cannot be combined with --${given[0]}`);
    link = readLinkConfig(v["link-config"]);
  } else {
    const each: Impairment = {};
    for (const f of given) each[FLAG_FIELDS[f]] = flagValue(f, v[f]!);
    link = checkLink({ name: "shape", aToB: each, bToA: each }, (issue) => {
      const flag = given.find((f) => FLAG_FIELDS[f] === issue.path.at(-1));
      return flag ? `--${flag} ${v[flag]}: ${issue.message}` : describeIssue({}, issue);
    });
  }
  const nat = env.MCRELAY_SHAPE_NAT || null;
  if (nat !== null && !(NAT_TOOLS as readonly string[]).includes(nat)) throw new ConfigError(`MCRELAY_SHAPE_NAT must be ${NAT_TOOLS.join(" or ")}, got "${nat}"`);
  readEnvironment(env); // the relay's variables: a bad one would stop it after the namespace is made
  return { link, command, verbose: v.verbose!, user: sudoUser(env), nat: nat as NatTool | null };
}
