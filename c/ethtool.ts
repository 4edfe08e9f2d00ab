// Typed wrapper of ethtool.c: an interface's offloads.
import { dlopen, FFIType as T } from "bun:ffi";
import { check, cstr, libPath } from "./lib.ts";

const { symbols: C } = dlopen(libPath(), {
  mr_ethtool_set: { args: [T.ptr, T.ptr, T.i32], returns: T.i32 },
});

/** The offloads by their `ethtool -K` names (ethtool.c has the table; a name it lacks is EINVAL). */
export type Offload = "gro" | "gso" | "tso" | "tx" | "rx" | "sg";

/** Turns an offload on or off (needs CAP_NET_ADMIN). */
export function setOffload(ifname: string, feature: Offload, on: boolean): void {
  check(C.mr_ethtool_set(cstr(ifname), cstr(feature), on ? 1 : 0), `ethtool ${feature} ${on ? "on" : "off"} on ${ifname}`);
}
