// Messages on the supervisor <-> worker channel (a SOCK_SEQPACKET pair; fds ride along as
// SCM_RIGHTS). Workers get the channel as fd 3. Control traffic is rare and may be JSON.
import type { RingGeometry } from "../c/packet.ts";

export const CONTROL_FD = 3;

export interface InitMsg {
  type: "init";
  role: "ingress" | "egress";
  index: number;
  shmSize: number;
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
  /** Rule number -> keys of the sockets it sends on, one per output. */
  rules: { no: number; outputs: string[] }[];
}

export interface StopMsg {
  type: "stop";
}

export type ToWorker = InitMsg | IngressConfigMsg | EgressConfigMsg | StopMsg;

export type FromWorker =
  | { type: "ready"; role: string; index: number; uid: number }
  | { type: "applied"; version: number }
  | { type: "stopped" }
  | { type: "error"; message: string };
