// Messages on the supervisor <-> worker channel (a SOCK_SEQPACKET pair; fds ride along as
// SCM_RIGHTS). Workers get the channel as fd 3. Control traffic is rare and may be JSON.
import type { RingGeometry } from "../../c/packet.ts";
import type { Impairment } from "../../rules/schema.ts";

export const CONTROL_FD = 3;

export interface InitMsg {
  type: "init";
  role: "ingress" | "egress";
  index: number;
  shmSize: number;
  /** A replacement ingress whose predecessor died: the free ring's slots are counted as its own. */
  replacesDeadIngress?: boolean;
  /** fds[0] is the segment. */
}

export interface IngressInput {
  ifname: string;
  ifindex: number;
  geometry: RingGeometry;
  /** Index into the message's fds when this is a new socket for ifname. */
  fd?: number;
}

export interface IngressRule {
  no: number;
  ifname: string;
  group: number;
  port: number;
  source: number;
  /** matched but not forwarded: every output is down */
  down: boolean;
  /** share of packets to trace (0..1) */
  sample: number;
  /** traffic class (shm/classes.ts) of its packets, or -1: from each packet's own DSCP */
  cls: number;
}

export interface IngressConfigMsg {
  type: "config";
  version: number;
  inputs: IngressInput[];
  rules: IngressRule[];
}

export interface EgressConfigMsg {
  type: "config";
  version: number;
  /** New sockets: key -> index into the message's fds. */
  sockets: { key: string; fd: number }[];
  /** Rule number -> keys of the sockets it sends on (one per output), which of them copy the
   *  input's DSCP, and the rule's impairment. */
  rules: { no: number; outputs: string[]; preserve: boolean[]; impairment?: Impairment; cls: number }[];
}

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
  | { type: "error"; message: string };
