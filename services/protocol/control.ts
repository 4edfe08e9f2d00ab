// The supervisor's control socket (<state-dir>/control.sock, 0600, owned by the relay user):
// newline-delimited JSON, one request -> one response with the same id. The API is its client.
import type { Rule } from "../../rules/schema.ts";
import type { Status } from "./status.ts";

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

export type Request =
  | { id: number; type: "hello" }
  | { id: number; type: "imported" }
  | { id: number; type: "apply"; rules: Rule[] }
  | { id: number; type: "status" }
  | { id: number; type: "interfaces" }
  | { id: number; type: "log-level"; level: string };

export type Response =
  | { id: number; ok: false; error: string }
  | { id: number; ok: true; type: "hello"; fileRules: Rule[]; shm: string }
  | { id: number; ok: true; type: "applied"; version: number; status: Status }
  | { id: number; ok: true; type: "status"; status: Status }
  | { id: number; ok: true; type: "interfaces"; interfaces: InterfaceInfo[] }
  | { id: number; ok: true; type: "done" };

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;
export type RequestBody = WithoutId<Request>;
export type Reply = WithoutId<Response>;
