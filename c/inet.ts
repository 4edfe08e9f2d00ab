// Typed wrapper of inet.c: egress and helper (IGMP, MLD) sockets of both families, interface lookup.
import { dlopen, FFIType as T, ptr } from "bun:ffi";
import { check, cstr, libPath } from "./lib.ts";

/** An address as C takes it: IPv4 as a host-order number, IPv6 as its 16 bytes. */
export type Addr = number | Uint8Array;

/** fe80::/10 or ff02::/16: a socket needs the interface as the destination's zone. */
const linkLocal6 = (a: Uint8Array) => (a[0] === 0xfe && (a[1]! & 0xc0) === 0x80) || (a[0] === 0xff && (a[1]! & 0x0f) === 2);

const { symbols: C } = dlopen(libPath(), {
  mr_egress_socket: { args: [T.ptr, T.i32, T.u32, T.u32, T.i32, T.i32, T.i32, T.u32, T.i32], returns: T.i32 },
  mr_egress_socket6: { args: [T.ptr, T.i32, T.ptr, T.u32, T.i32, T.i32, T.i32, T.u32, T.i32], returns: T.i32 },
  mr_raw_ip_socket: { args: [T.i32, T.i32, T.ptr, T.i32, T.ptr, T.i32, T.i32, T.i32, T.i32], returns: T.i32 },
  mr_local_port: { args: [T.i32], returns: T.i32 },
  mr_helper_socket: { args: [], returns: T.i32 },
  mr_helper_socket6: { args: [], returns: T.i32 },
  mr_helper_member: { args: [T.i32, T.i32, T.u32, T.u32, T.i32], returns: T.i32 },
  mr_helper_member6: { args: [T.i32, T.i32, T.ptr, T.ptr, T.i32], returns: T.i32 },
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
  addr: Addr;
  port: number;
  /** TTL or hop limit */
  ttl: number;
  dscp: number;
  /** false: UDP checksum 0 ("none"; IPv4 only) */
  checksum?: boolean;
}

/** A UDP socket of the destination's family, bound to the output interface and connected to its
 *  destination, sending from srcPort (0: a port the kernel picks; others share it with SO_REUSEPORT). */
export function egressSocket(s: EgressSpec, srcPort = 0, sndbuf = 4 << 20): number {
  const a = s.addr;
  if (typeof a === "number") {
    return check(C.mr_egress_socket(cstr(s.ifname), s.ifindex, be32(a), be16(s.port), s.ttl, s.dscp << 2, sndbuf, be16(srcPort), s.checksum === false ? 1 : 0),
      `UDP socket to ${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}:${s.port} on ${s.ifname}`);
  }
  return check(C.mr_egress_socket6(cstr(s.ifname), s.ifindex, ptr(a), be16(s.port), s.ttl, s.dscp << 2, sndbuf, be16(srcPort), linkLocal6(a) ? 1 : 0),
    `IPv6 UDP socket to port ${s.port} on ${s.ifname}`);
}

/** A raw IP socket of `protocol` (not UDP), bound to the output interface and connected to its
 *  destination: a send is the protocol's payload, the kernel adds the IP header. */
export function rawIpSocket(s: EgressSpec, protocol: number, sndbuf = 4 << 20): number {
  const a = s.addr;
  const bytes = typeof a === "number" ? new Uint8Array([a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255]) : a;
  return check(C.mr_raw_ip_socket(bytes.length === 16 ? 6 : 4, protocol, cstr(s.ifname), s.ifindex, ptr(bytes), s.ttl, s.dscp << 2, sndbuf,
    bytes.length === 16 && linkLocal6(bytes) ? 1 : 0), `raw IP socket (protocol ${protocol}) on ${s.ifname}`);
}

/** The socket's local UDP port. */
export function localPort(fd: number): number {
  return be16(check(C.mr_local_port(fd), "getsockname"));
}

/** A socket that holds memberships of one family (IGMP for 4, MLD for 6). */
export function helperSocket(family: 4 | 6 = 4): number {
  return family === 4 ? check(C.mr_helper_socket(), "IGMP helper socket") : check(C.mr_helper_socket6(), "MLD helper socket");
}

/** Joins (or leaves) group on ifindex on a helper socket of its family; source null = any
 *  source, else a source-specific membership (IGMPv3, MLDv2) of the same family. */
export function helperMember(fd: number, ifindex: number, group: Addr, source: Addr | null, join: boolean): void {
  const what = source !== null ? (join ? "MCAST_JOIN_SOURCE_GROUP" : "MCAST_LEAVE_SOURCE_GROUP") : join ? "join" : "leave";
  if (typeof group === "number") {
    check(C.mr_helper_member(fd, ifindex, be32(group), source !== null ? be32(source as number) : 0, join ? 1 : 0), `IPv4 ${what}`);
  } else {
    check(C.mr_helper_member6(fd, ifindex, ptr(group), source !== null ? ptr(source as Uint8Array) : null, join ? 1 : 0), `IPv6 ${what}`);
  }
}

/** 0 when there is no such interface. */
export function ifIndex(ifname: string): number {
  return C.mr_if_index(cstr(ifname));
}

export function closeFd(fd: number): void {
  check(C.mr_close(fd), `close(${fd})`);
}
