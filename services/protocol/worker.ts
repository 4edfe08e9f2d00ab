// Messages on the supervisor <-> worker channel: a SOCK_SEQPACKET pair, the worker's fd 3; sockets
// ride along as SCM_RIGHTS. Control traffic is rare and may be JSON, but one message is bounded
// (MAX_MESSAGE_BYTES, MAX_FDS_PER_MESSAGE), so a configuration travels in parts: the worker keeps
// the parts and applies them together when the last one arrives, between two batches of packets.
import type { RingGeometry } from "../../c/packet.ts";
import type { Impairment, Redundancy } from "../../rules/schema.ts";

export const CONTROL_FD = 3;

/** The most JSON one part carries; what a SOCK_SEQPACKET pair takes without raising its buffers. */
export const MAX_MESSAGE_BYTES = 64 << 10;

export interface InitMsg {
  type: "init";
  role: "ingress" | "egress";
  index: number;
  shmSize: number;
  /** A replacement ingress whose predecessor died: the free ring's slots are counted as its own. */
  replacesDeadIngress?: boolean;
  /** --low-latency: the worker busy-polls on this CPU (pinned) instead of sleeping while traffic flows */
  busyPoll?: BusyPoll;
  /** fds[0] is the segment. */
}

/** A busy-polling worker's CPU (it may be its pair's other worker's too: when a pass finds
 *  nothing, a busy-polling worker yields the CPU to whatever else may run there). */
export interface BusyPoll {
  cpu: number;
}

export interface IngressInput {
  ifname: string;
  ifindex: number;
  /** Its progress record in the pair's ingress block: fixed for the life of the input's socket. */
  slot: number;
  geometry: RingGeometry;
  /** Index into this part's fds when the part carries the input's socket. */
  fd?: number;
  /** Read by this pair alone (not a fanout group of every pair): a redundant rule's inputs are, so
   *  that every copy of a stream meets in one egress. */
  pinned?: boolean;
  /** The socket was read by an ingress that died: take up its ring where its progress record says. */
  resume?: boolean;
  /** A link's end: every frame (a virtio_net_hdr before each) goes whole to the link's channels. */
  link?: boolean;
  /** Every pair reads it whole (a split rule's input): a frame of a rule that is not split is
   *  kept, and counted, by one pair only, chosen by the flow's hash as a fanout group would. */
  shared?: boolean;
}

/** One way of a link, as ingress classifies the frames arriving on its input end. */
export interface IngressLink {
  /** the end frames arrive on */
  ifname: string;
  /** the channel (rule number) of frames no flow matches */
  no: number;
  /** the link is down (an end is): frames are counted as rule_down */
  down: boolean;
  /** in order, first match wins */
  flows: IngressFlow[];
}

/** A flow's match, compiled: -1 where a field is not matched on. */
export interface IngressFlow {
  no: number;
  /** 4 or 6: the address prefix's family; 0: no address match */
  family: number;
  /** the prefix's bytes (4 or 16); bits of it that must match */
  prefix: number[];
  bits: number;
  protocol: number;
  portLo: number;
  portHi: number;
}

export interface IngressRule {
  no: number;
  ifname: string;
  /** 802.1Q id of the frames it takes, 0: untagged ones */
  vlan: number;
  /** canonical text (rules/ip.ts), IPv4 or IPv6 */
  group: string;
  /** UDP's destination port; 0 for another protocol */
  port: number;
  /** the IP protocol: 17 (UDP), or another whose IP payloads the rule relays whole */
  protocol: number;
  /** canonical text, "": any source */
  source: string;
  /** matched but not forwarded: every output is down */
  down: boolean;
  /** share of packets to trace (0..1) */
  sample: number;
  /** traffic class (shm/classes.ts) of its packets, or -1: from each packet's own DSCP */
  cls: number;
  /** sum each payload as it is copied (a raw output computes UDP checksums from the sum) */
  sum: boolean;
  /** a redundant rule's further inputs: path 1, 2, 3 (the fields above are path 0) */
  also?: IngressPath[];
  /** its outputs are shared out among the egresses: every pair takes its packets (on a shared input) */
  split?: boolean;
}

/** Another input of a redundant rule, matched as the rule's own is; its packets carry the path's number. */
export interface IngressPath {
  ifname: string;
  vlan: number;
  group: string;
  port: number;
  source: string;
}

/** Ingress configuration, one part. `inputs` (every input, complete) comes with the last part. */
export interface IngressConfigMsg {
  type: "config";
  version: number;
  last: boolean;
  inputs?: IngressInput[];
  /** every link direction (complete), with the last part */
  links?: IngressLink[];
  /** rules added or changed, by number */
  put?: IngressRule[];
  /** rule numbers no longer matched */
  remove?: number[];
}

/** What a raw send's frame header holds (services/egress/raw-frame.ts builds it). */
export interface RawOutputSpec {
  /** the interface's MAC, "aa:bb:cc:dd:ee:ff" */
  srcMac: string;
  /** source and destination addresses, canonical text of one family (IPv6: an Ethernet + IPv6 +
   *  UDP header, the UDP checksum always computed) */
  src: string;
  dst: string;
  sport: number;
  dport: number;
  ttl: number;
  /** the DSCP to set; ignored when preserve */
  dscp: number;
  /** copy each packet's TOS byte */
  preserve: boolean;
  /** compute the UDP checksum (else 0: "none", which IPv4 allows; IPv6 always has one) */
  checksum: boolean;
}

/** One output of a rule, as egress sends to it. */
export interface EgressOutput {
  /** the socket it goes out on: a UDP socket (a raw IP socket for another protocol) of its own,
   *  or (raw) its interface's packet socket */
  socket: string;
  /** its row in the output counters, or -1 when the rows are all taken (then counted per rule only) */
  row: number;
  /** the largest payload its interface's MTU takes: bigger ones are dropped, never fragmented */
  maxPayload: number;
  /** copy the input packet's DSCP */
  preserve: boolean;
  /** an IPv6 output: its socket is AF_INET6 (a preserved DSCP goes in IPV6_TCLASS, not IP_TOS) */
  v6?: boolean;
  /** raw sends: the frame header to build */
  raw?: RawOutputSpec;
  /** raw IPv4 as UDP GSO super-frames, on a packet socket that takes a virtio_net_hdr */
  gso?: true;
}

export interface EgressRule {
  no: number;
  /** a link's channel: each slot is a virtio_net_hdr and a whole frame (not a UDP payload) */
  link?: boolean;
  outputs: EgressOutput[];
  impairment?: Impairment;
  /** traffic class (shm/classes.ts), or -1: from each packet's own DSCP */
  cls: number;
  /** seamless redundancy: merge the rule's paths by sequence number (only in `pair`'s egress, the
   *  one whose ingress reads every input of the rule) */
  redundancy?: Redundancy & { paths: number; pair: number; /** the rule's id, for the log */ id: string };
}

/** Egress configuration, one part. */
export interface EgressConfigMsg {
  type: "config";
  version: number;
  last: boolean;
  /** new sockets: key -> index into this part's fds */
  sockets?: { key: string; fd: number }[];
  /** rules added or changed, by number */
  put?: EgressRule[];
  /** Rule numbers to retire: egress sends what it still holds of them, then answers "retired". */
  remove?: number[];
}

export type ConfigMsg = IngressConfigMsg | EgressConfigMsg;

export interface StopMsg {
  type: "stop";
}

/** To ingress, after its egress died: stop receiving and take back the slots egress held. */
export interface ReclaimMsg {
  type: "reclaim";
}

/** To ingress: receive again (a new egress is running). */
export interface ResumeMsg {
  type: "resume";
}

/** To egress, after its ingress died: answer "drained" once nothing is queued or in flight. */
export interface DrainMsg {
  type: "drain";
}

export interface LogLevelMsg {
  type: "log-level";
  level: string;
}

export type ToWorker = InitMsg | IngressConfigMsg | EgressConfigMsg | StopMsg | ReclaimMsg | ResumeMsg | DrainMsg | LogLevelMsg;

export type FromWorker =
  | { type: "ready"; role: string; index: number; uid: number }
  | { type: "applied"; version: number }
  | { type: "stopped" }
  | { type: "reclaimed"; slots: number }
  | { type: "resumed" }
  | { type: "drained" }
  /** unprompted: no packet of these rules is left in egress; their numbers may be used again */
  | { type: "retired"; nos: number[] }
  | { type: "error"; message: string };
