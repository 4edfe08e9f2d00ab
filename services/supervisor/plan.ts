// From the desired rules and the interfaces that exist now, what the data plane should run:
// each rule's state, its number, the outputs it can send on, and the inputs to open. Pure.
import { canonicalIp, ipFamily, isMulticastIp, type Family } from "../../rules/ip.ts";
import { UDP, protocolNumber } from "../../rules/protocols.ts";
import { ruleInputs, type Impairment, type Redundancy } from "../../rules/schema.ts";
import { BEST_EFFORT, classOf } from "../../shm/classes.ts";
import type { RuleState } from "../protocol/status.ts";
import type { IdentifiedRule } from "./desired.ts";
import type { IdentifiedLink } from "./desired-links.ts";
import { planLinks, type PlannedLink } from "./link-plan.ts";
import type { Netdev } from "./netdevs.ts";

export interface PlannedOutput {
  /** Identifies the egress socket; it includes the interface's address so a change rebinds. */
  key: string;
  ifname: string;
  ifindex: number;
  /** the output's family: IPv4 or IPv6 (whatever the input's) */
  family: Family;
  /** the interface's address of that family (the source of raw sends), or "" */
  src: string;
  /** canonical text */
  addr: string;
  /** UDP's destination port; 0 for another protocol */
  port: number;
  /** the IP protocol it sends: UDP (17), or another whose payloads a raw IP socket sends whole */
  protocol: number;
  /** TTL or hop limit */
  ttl: number;
  /** the socket's code point (0 when the packet's own is preserved) */
  dscp: number;
  /** copy each input packet's DSCP */
  preserve: boolean;
  /** sent as frames built here, on a packet socket of the interface (else through a UDP socket) */
  raw: boolean;
  /** with a UDP checksum */
  checksum: boolean;
  /** raw IPv4 sent as UDP GSO super-frames (its packet socket takes a virtio_net_hdr) */
  gso: boolean;
  /** the interface's MTU and MAC */
  mtu: number;
  mac: string;
  /** its place in the rule's outputs (what its counters are reported under) */
  index: number;
}

/** One input of a rule: the first is the rule's own fields, a redundant rule has 2–4 (its paths). */
export interface PlannedPath {
  ifname: string;
  ifindex: number;
  vlan: number;
  group: string;
  port: number;
  source: string;
  /** its interface exists and is up */
  up: boolean;
}

export interface PlannedRule {
  no: number;
  id: string;
  name?: string;
  /** active: forwarding; waiting: an interface is missing; down: its input, or every output, is
   *  down, or its group could not be joined */
  state: RuleState;
  /** why a rule waits, is down, or forwards on fewer outputs */
  reason?: string;
  ifname: string;
  ifindex: number;
  /** 802.1Q id, 0: untagged */
  vlan: number;
  /** canonical text; source "" is any source */
  group: string;
  /** UDP's port; 0 for another protocol */
  port: number;
  /** the IP protocol it takes (17: UDP) */
  protocol: number;
  source: string;
  /** share of packets traced */
  sample: number;
  impairment?: Impairment;
  /** traffic class of its packets (shm/classes.ts), or -1: each packet's own DSCP decides */
  cls: number;
  /** the outputs that are up; egress sends on these */
  outputs: PlannedOutput[];
  /** its input is open: ingress matches it (and counts it as rule_down when no output is up) */
  matched: boolean;
  /** a redundant rule: its inputs (path i is paths[i]; the fields above are path 0's) and how they merge */
  paths?: PlannedPath[];
  redundancy?: Redundancy;
}

export interface Plan {
  rules: PlannedRule[];
  links: PlannedLink[];
  /** input interface -> ifindex: inputs that are up and used by a rule that is not waiting */
  inputs: Map<string, number>;
}

/** Copies to a multicast group go out as raw frames unless the output says otherwise (measured:
 *  docs/PERFORMANCE.md, fan-out). */
export const RAW_BY_DEFAULT = true;

export function outputKey(o: Omit<PlannedOutput, "key" | "index">): string {
  return `${o.raw ? `raw:${o.mac}|${o.mtu}` : o.protocol === UDP ? "udp" : `ip${o.protocol}`}|${o.ifname}#${o.ifindex}|${o.src}|${o.addr}|${o.port}|${o.ttl}|${o.preserve ? "preserve" : o.dscp}|${o.checksum ? "" : "nocsum"}${o.gso ? "|gso" : ""}`;
}

/** A rule's packets are of the highest class among its outputs; -1 when one copies the input's DSCP. */
function ruleClass(outputs: { preserve: boolean; dscp: number }[]): number {
  if (outputs.some((o) => o.preserve)) return -1;
  return Math.max(BEST_EFFORT, ...outputs.map((o) => classOf(o.dscp)));
}

const plural = (n: number, w: string) => `${w}${n > 1 ? "s" : ""}`;

/**
 * numberOf: each rule's number (every desired rule has one). notJoined: "ifname group/source" ->
 * why the membership failed; such a rule forwards whatever arrives but is reported down.
 */
export function makePlan(rules: IdentifiedRule[], numberOf: (id: string) => number, netdevs: Map<string, Netdev>,
  notJoined: (ifname: string, group: string, source: string) => string | undefined = () => undefined, links: IdentifiedLink[] = []): Plan {
  const inputs = new Map<string, number>();
  const planned = rules.map((r): PlannedRule => {
    const ins = ruleInputs(r);
    const first = ins[0]!;
    const protocol = protocolNumber(first.protocol);
    const all = r.outputs.map((o, index) => {
      const l = netdevs.get(o.interface);
      const preserve = o.dscp === "preserve";
      const addr = canonicalIp(o.group);
      const family = ipFamily(addr) as Family;
      const src = (family === 6 ? l?.addr6 : l?.addr) ?? "";
      // By default raw where it can be: UDP to a multicast group on an Ethernet link with an address of its family.
      const raw = o.send === "raw" || (o.send === undefined && RAW_BY_DEFAULT && protocol === UDP && isMulticastIp(addr) && !!l?.mac && !!src);
      const out = { ifname: o.interface, ifindex: l?.ifindex ?? 0, family, src, addr, port: o.port ?? 0, protocol, ttl: o.ttl,
        dscp: preserve ? 0 : (o.dscp as number), preserve, raw, checksum: o.udpChecksum !== false,
        gso: raw && o.gso === true && family === 4, mtu: l?.mtu ?? 0, mac: l?.mac ?? "" };
      return { ...out, key: outputKey(out), index, up: l?.up ?? false };
    });
    const paths: PlannedPath[] = ins.map((i) => {
      const d = netdevs.get(i.interface);
      return { ifname: i.interface, ifindex: d?.ifindex ?? 0, vlan: i.vlan ?? 0, group: canonicalIp(i.group), port: i.port ?? 0,
        source: i.source ? canonicalIp(i.source) : "", up: d?.up ?? false };
    });
    const p0 = paths[0]!;
    const p: PlannedRule = {
      no: numberOf(r.id), id: r.id, name: r.name, state: "active",
      ifname: p0.ifname, ifindex: p0.ifindex, vlan: p0.vlan, group: p0.group, port: p0.port,
      protocol, source: p0.source,
      sample: r.traceSampleRatio, impairment: r.impairment, cls: ruleClass(all),
      outputs: all.filter((o) => o.up).map(({ up: _up, ...o }) => o), matched: false,
      ...(r.redundancy ? { paths, redundancy: r.redundancy } : {}),
    };
    const missing = [...new Set([...ins.map((i) => i.interface), ...r.outputs.map((o) => o.interface)].filter((n) => !netdevs.has(n)))];
    const downOuts = [...new Set(all.filter((o) => !o.up && netdevs.has(o.ifname)).map((o) => o.ifname))];
    const downIns = [...new Set(paths.filter((x) => !x.up).map((x) => x.ifname))];
    if (missing.length) {
      p.state = "waiting";
      p.reason = `waiting for ${plural(missing.length, "interface")} ${missing.join(", ")}`;
      p.outputs = [];
    } else if (paths.every((x) => !x.up)) {
      p.state = "down";
      p.reason = `${paths.length > 1 ? "every input" : "input"} ${downIns.join(", ")} ${paths.length > 1 ? "is" : "is"} down`;
      p.outputs = [];
    } else {
      p.matched = true;
      for (const x of paths) if (x.up) inputs.set(x.ifname, x.ifindex);
      const join = paths.map((x) => notJoined(x.ifname, x.group, x.source)).find((j) => j !== undefined);
      const partial = downIns.length ? `${plural(downIns.length, "input")} ${downIns.join(", ")} down: merging the others` : "";
      if (p.outputs.length === 0) {
        p.state = "down";
        p.reason = `every output is down (${downOuts.join(", ")})`;
      } else if (join) {
        p.state = "down";
        p.reason = `${join}; forwarding what arrives, retrying the join`;
      } else if (downOuts.length || partial) {
        p.reason = [downOuts.length ? `${plural(downOuts.length, "output")} ${downOuts.join(", ")} down: forwarding on the others` : "", partial].filter(Boolean).join("; ");
      }
    }
    return p;
  });
  return { rules: planned, inputs, links: planLinks(links, numberOf, netdevs) };
}
