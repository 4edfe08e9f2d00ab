// Typed wrapper of inet.c: egress and IGMP helper sockets, interface lookup.
import { dlopen, FFIType as T } from "bun:ffi";
import { check, cstr, libPath } from "./lib.ts";

const { symbols: C } = dlopen(libPath(), {
  mr_egress_socket: { args: [T.ptr, T.i32, T.u32, T.u32, T.i32, T.i32, T.i32, T.u32, T.i32], returns: T.i32 },
  mr_local_port: { args: [T.i32], returns: T.i32 },
  mr_helper_socket: { args: [], returns: T.i32 },
  mr_helper_member: { args: [T.i32, T.i32, T.u32, T.u32, T.i32], returns: T.i32 },
  mr_if_index: { args: [T.ptr], returns: T.i32 },
  mr_close: { args: [T.i32], returns: T.i32 },
});

/** Host-order IPv4 (as parsed from a dotted quad) to the network-order word C expects. */
function be32(hostOrder: number): number {
  return (((hostOrder & 0xff) << 24) | ((hostOrder >>> 8 & 0xff) << 16) | ((hostOrder >>> 16 & 0xff) << 8) | (hostOrder >>> 24)) >>> 0;
}
function be16(port: number): number {
  return ((port & 0xff) << 8) | (port >>> 8);
}

export interface EgressSpec {
  ifname: string;
  ifindex: number;
  /** destination address, host order */
  addr: number;
  port: number;
  ttl: number;
  dscp: number;
  /** false: UDP checksum 0 ("none") */
  checksum?: boolean;
}

/** A UDP socket bound to the output interface and connected to its destination, sending from
 *  srcPort (0: a port the kernel picks; others share it with SO_REUSEPORT). */
export function egressSocket(s: EgressSpec, srcPort = 0, sndbuf = 4 << 20): number {
  return check(C.mr_egress_socket(cstr(s.ifname), s.ifindex, be32(s.addr), be16(s.port), s.ttl, s.dscp << 2, sndbuf, be16(srcPort), s.checksum === false ? 1 : 0),
    `UDP socket to ${s.addr >>> 24}.${(s.addr >>> 16) & 255}.${(s.addr >>> 8) & 255}.${s.addr & 255}:${s.port} on ${s.ifname}`);
}

/** The socket's local UDP port. */
export function localPort(fd: number): number {
  return be16(check(C.mr_local_port(fd), "getsockname"));
}

export function helperSocket(): number {
  return check(C.mr_helper_socket(), "IGMP helper socket");
}

/** Joins (or leaves) group (host order) on ifindex; source 0 = any source. */
export function helperMember(fd: number, ifindex: number, group: number, source: number, join: boolean): void {
  check(C.mr_helper_member(fd, ifindex, be32(group), source ? be32(source) : 0, join ? 1 : 0), join ? "IP_ADD_MEMBERSHIP" : "IP_DROP_MEMBERSHIP");
}

/** 0 when there is no such interface. */
export function ifIndex(ifname: string): number {
  return C.mr_if_index(cstr(ifname));
}

export function closeFd(fd: number): void {
  check(C.mr_close(fd), `close(${fd})`);
}
