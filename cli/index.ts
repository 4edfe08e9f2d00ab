// The API client commands: rules, links, apply, export, stats, top, capture (dispatched here from bin/mcrelay.ts).
import { apply, exportRules } from "./apply.ts";
import { CAPTURE_USAGE, capture } from "./capture.ts";
import { edit } from "./edit.ts";
import { CliError, UsageError, describeError } from "./errors.ts";
import { print } from "./format.ts";
import { COMMON_USAGE } from "./options.ts";
import * as links from "./links.ts";
import { add, ls, rm, set, show } from "./rules.ts";
import { stats } from "./stats.ts";
import { TOP_USAGE, top } from "./top.ts";

const USAGE = {
  rules: `usage: mcrelay rules ls | show ID | rm ID... | edit ID
       mcrelay rules add -f FILE|- [FIELD=VALUE...]
       mcrelay rules add --in IF:GROUP:PORT[@SOURCE] --out IF:GROUP:PORT [--out ...] [--ttl N] [--dscp N|preserve]
                         [--name N] [--id ID] [FIELD=VALUE...]
       mcrelay rules set ID FIELD=VALUE...
  FIELD is any field of a rule by its path, VALUE as the field takes it (a list: a,b; an object: JSON;
  empty: remove the field), e.g. outputs[0].ttl=4 outputs[1].dscp=preserve impairment.loss=0.1
  impairment.delayMs=20 impairment.stages=drop-odd-size traceSampleRatio=0.5 input.source=10.0.0.1.
  add: --ttl/--dscp apply to every --out; outputs[N].FIELD= sets one (outputs[N] one past the last adds it).
  set: the stored rule with those fields changed; the API checks the whole rule and names a wrong field.
  edit opens the rule in $VISUAL or $EDITOR (default vi) and stores it when the editor exits.`,
  links: links.LINKS_USAGE,
  apply: `usage: mcrelay apply -f FILE|- [--dry-run] [--prune | --no-prune]
  The file ({"rules": [...], "links": [...]}, as for start --config and as export prints) becomes
  the desired state: rules and links are matched by id (derived from a rule's input or a link's
  interfaces when absent); the diff is printed, then carried out unless --dry-run. Rules and links
  on the server but not in the file are deleted unless --no-prune.`,
  export: `usage: mcrelay export
  Prints every rule and link as a rules file that apply -f accepts.`,
  top: TOP_USAGE,
  capture: CAPTURE_USAGE,
  stats: `usage: mcrelay stats
  Counters and rates per rule and worker; without a reachable API, read from the shared memory of
  the relay running with --state-dir DIR.`,
};

type Sub = Record<string, (argv: string[]) => Promise<number>>;
const SUBCOMMANDS: Record<"rules" | "links", Sub> = {
  rules: { ls, list: ls, show, get: show, add, set, rm, delete: rm, edit },
  links: { ls: links.ls, list: links.ls, show: links.show, get: links.show, add: links.add, rm: links.rm, delete: links.rm, set: links.set },
};

export async function main(cmd: "rules" | "links" | "apply" | "export" | "stats" | "top" | "capture", argv: string[]): Promise<number> {
  const usage = `${USAGE[cmd]}\n${COMMON_USAGE}`;
  if (argv.includes("--help") || argv.includes("-h")) {
    await print(usage);
    return 0;
  }
  try {
    switch (cmd) {
      case "rules": case "links": {
        const [sub, ...rest] = argv;
        const fn = sub === undefined ? undefined : SUBCOMMANDS[cmd][sub];
        if (!fn) throw new UsageError(sub === undefined ? "a subcommand is needed" : `unknown subcommand "${sub}"`);
        return await fn(rest);
      }
      case "apply": return await apply(argv);
      case "export": return await exportRules(argv);
      case "stats": return await stats(argv);
      case "top": return await top(argv);
      case "capture": return await capture(argv);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`mcrelay ${cmd}: ${(e as Error).message}\n\n${usage}`);
      return 2;
    }
    if (e instanceof CliError) {
      console.error(describeError(e));
      return 1;
    }
    throw e;
  }
}
