// The supervisor's control socket (<state-dir>/control.sock, 0600, owned by the relay user; the
// supervisor accepts only the API it started, or with --external-api any process of the relay
// user, by SO_PEERCRED). Frames (frame.ts) of JSON: one request -> one response with the same id;
// besides those, the supervisor sends events (id 0) when its status changes.
//
// The API owns the desired rules. On every (re)connect it sends them whole (`sync`); afterwards
// only what changed (`change`). The supervisor validates again (trust no peer), checks what it
// alone can see (the interfaces' addresses, free rule numbers), and either applies all of a
// request or none of it: a rejection names the rule and field, as the API's own 422s do.
import type { Link } from "../../rules/link.ts";
import type { CaptureQuery } from "./capture.ts";
import type { Rule } from "../../rules/schema.ts";
import type { RuleState, Status } from "./status.ts";

export interface InterfaceInfo {
  name: string;
  ifindex: number;
  state: string;
  mtu: number;
  addresses: string[];
  /** rules that use it as input or output */
  rules: string[];
  /** rules waiting on it */
  waiting: string[];
}

/** A rule's state in the data plane after a change. */
export interface RuleStatus {
  id: string;
  state: RuleState;
  reason?: string;
}

/** A link's state in the data plane after a change. */
export interface LinkStatus {
  id: string;
  state: RuleState;
  reason?: string;
}

/** Why the supervisor refused a change: the rule or link (by id) and the field, like the API's issues. */
export interface ControlIssue {
  /** absent: a rule */
  kind?: "link";
  id: string;
  path: (string | number)[];
  message: string;
}

export type Request =
  | { id: number; type: "hello" }
  | { id: number; type: "imported" }
  /** the whole desired state: rules not in it are deleted (links too, when `links` is given) */
  | { id: number; type: "sync"; rules: Rule[]; links?: Link[] }
  /** rules created or replaced (by id), rules deleted (by id); links likewise */
  | { id: number; type: "change"; put: Rule[]; delete: string[]; links?: { put: Link[]; delete: string[] } }
  | { id: number; type: "status" }
  | { id: number; type: "interfaces" }
  | { id: number; type: "log-level"; level: string }
  /** a capture of a rule's or link's next packets (capture.ts), as a pcap in a FIFO */
  | { id: number; type: "capture"; kind: "rule" | "link"; target: string; query: CaptureQuery }
  /** the client of a capture went away: end it (its FIFO names it) */
  | { id: number; type: "capture-stop"; fifo: string };

export type Response =
  | { id: number; ok: false; error: string; issues?: ControlIssue[] }
  /** the file's rules (every node's: the API stores them) and links, and which node this supervisor is */
  | { id: number; ok: true; type: "hello"; fileRules: Rule[]; fileLinks: Link[]; shm: string; node: string; startedAt: string }
  | { id: number; ok: true; type: "applied"; version: number; rules: RuleStatus[]; links: LinkStatus[] }
  | { id: number; ok: true; type: "status"; status: Status }
  | { id: number; ok: true; type: "interfaces"; interfaces: InterfaceInfo[] }
  | { id: number; ok: true; type: "done" }
  /** the FIFO to read the capture's pcap from (it ends when the capture does) */
  | { id: number; ok: true; type: "capture"; fifo: string };

/** Unprompted, id 0: the status changed (version counts changes); ask for it when it is needed. */
export interface StatusEvent {
  id: 0;
  type: "status-changed";
  version: number;
}

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;
export type RequestBody = WithoutId<Request>;
export type Reply = WithoutId<Response>;
