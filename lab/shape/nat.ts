// The namespace's traffic to the rest of the world: masqueraded to the host's address on its way
// out of any interface but the host side's own, with nftables (a table of shape's own, so undoing
// it is deleting the table) or iptables (one nat rule). Where the host's firewall drops forwarded
// packets — Docker sets the FORWARD policy to DROP — two ACCEPT rules for the host side go first.
import type { Undo } from "./journal.ts";
import { run } from "../netns.ts";
import type { NatTool } from "./options.ts";

/** One change and its undo (the journal records the undo before the change is made); a step
 *  without argv only records what to look at afterwards. */
export interface Step {
  argv?: string[];
  stdin?: string;
  undo: Undo;
}

export class MissingTool extends Error {}

/** The absolute path of a tool: sbin is searched too (sudo and su do not always put it on PATH). */
const which = (tool: string) => Bun.which(tool, { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` });

/** The NAT tool to use and its path: the one asked for, else nft, else iptables. */
export function natTool(asked: NatTool | null): { tool: NatTool; path: string } {
  for (const tool of asked ? [asked] : (["nft", "iptables"] as const)) {
    const path = which(tool);
    if (path) return { tool, path };
  }
  throw new MissingTool(asked
    ? `MCRELAY_SHAPE_NAT=${asked}: ${asked} is not installed (Debian package ${asked === "nft" ? "nftables" : "iptables"})`
    : "NAT needs nft or iptables, and neither is installed: apt-get install nftables (scripts/setup.sh installs it)");
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_.\/-]*$/;

/** Base chains that drop forwarded IPv4 packets unless a rule accepts them. */
function droppingForwardChains(nft: string): { family: string; table: string; name: string }[] {
  const r = run([nft, "-j", "list", "chains"]);
  if (r.code !== 0) return [];
  const items = (JSON.parse(r.stdout || "{}").nftables ?? []) as { chain?: { family: string; table: string; name: string; hook?: string; policy?: string } }[];
  return items.flatMap((i) => (i.chain && i.chain.hook === "forward" && i.chain.policy === "drop" && ["ip", "inet"].includes(i.chain.family)
    && IDENT.test(i.chain.table) && IDENT.test(i.chain.name) ? [i.chain] : []));
}

/** What to change, for the /30 `cidr` whose host side is interface `h`; `id` names the run. */
export function natSteps(nat: { tool: NatTool; path: string }, id: string, cidr: string, h: string): Step[] {
  const tag = `mcrelay-shape-${id}`;
  if (nat.tool === "nft") {
    const table = `mcrelay_shape_${id}`;
    const steps: Step[] = [{
      argv: [nat.path, "-f", "-"],
      stdin: `table ip ${table} {\n  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n` +
        `    ip saddr ${cidr} oifname != "${h}" masquerade\n  }\n}\n`,
      undo: { argv: [nat.path, "delete", "table", "ip", table] },
    }];
    for (const c of droppingForwardChains(nat.path)) {
      steps.push({
        argv: [nat.path, "-f", "-"],
        stdin: ["iifname", "oifname"].map((dir) => `insert rule ${c.family} ${c.table} ${c.name} ${dir} "${h}" accept comment "${tag}"\n`).join(""),
        undo: { taggedRules: { family: c.family, table: c.table, chain: c.name, tag } },
      });
    }
    return steps;
  }
  const ipt = (...args: string[]) => [nat.path, "-w", ...args];
  const rule = (table: string, chain: string, spec: string[]) => ({ argv: ipt("-t", table, "-A", chain, ...spec), undo: { argv: ipt("-t", table, "-D", chain, ...spec) } });
  const steps: Step[] = [];
  // iptables-nft makes the nat table for the first nat rule and leaves it when the rule goes; it
  // goes too, if it was not there before and nothing else is in it by then.
  const nft = which("nft");
  if (nft && /nf_tables/.test(run([nat.path, "-V"]).stdout) && run([nft, "list", "table", "ip", "nat"]).code !== 0) {
    steps.push({ undo: { emptyTable: { family: "ip", table: "nat" } } });
  }
  steps.push(rule("nat", "POSTROUTING", ["-s", cidr, "!", "-o", h, "-j", "MASQUERADE"]));
  if (run(ipt("-S", "FORWARD")).stdout.split("\n").includes("-P FORWARD DROP")) {
    for (const dir of ["-i", "-o"]) steps.push({ argv: ipt("-I", "FORWARD", "1", dir, h, "-j", "ACCEPT"), undo: { argv: ipt("-D", "FORWARD", dir, h, "-j", "ACCEPT") } });
  }
  return steps;
}

/** Undoes one change; the problem if it could not be (a change never made is no problem). */
export function undoStep(u: Undo): string | null {
  if ("argv" in u) {
    const r = run(u.argv);
    if (r.code === 0 || /No such file|does not exist|Bad rule|No chain\/target\/match/i.test(r.stderr)) return null;
    return `\`${u.argv.join(" ")}\` failed: ${r.stderr.trim()}`;
  }
  const nft = which("nft");
  if ("emptyTable" in u) {
    const { family, table } = u.emptyTable;
    const r = nft ? run([nft, "-j", "list", "table", family, table]) : null;
    if (!r || r.code !== 0 || (JSON.parse(r.stdout || "{}").nftables ?? []).some((x: object) => "rule" in x)) return null;
    const d = run([nft!, "delete", "table", family, table]);
    return d.code === 0 ? null : `cannot remove the empty table ${family} ${table}: ${d.stderr.trim()}`;
  }
  const { family, table, chain, tag } = u.taggedRules;
  if (!nft) return `cannot remove the rules tagged ${tag} from ${family} ${table} ${chain}: nft is gone`;
  const r = run([nft, "-j", "-a", "list", "chain", family, table, chain]);
  if (r.code !== 0) return null; // the chain is gone, and our rules with it
  const rules = (JSON.parse(r.stdout || "{}").nftables ?? []) as { rule?: { handle: number; comment?: string } }[];
  for (const x of rules) {
    if (x.rule?.comment !== tag) continue;
    const d = run([nft, "delete", "rule", family, table, chain, "handle", String(x.rule.handle)]);
    if (d.code !== 0) return `cannot remove rule ${x.rule.handle} (${tag}) from ${family} ${table} ${chain}: ${d.stderr.trim()}`;
  }
  return null;
}
