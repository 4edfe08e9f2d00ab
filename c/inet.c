// AF_INET and AF_INET6 sockets the supervisor makes: egress sockets (one per output) and the
// helper sockets that hold multicast memberships (IGMP, MLD).
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <net/if.h>
#include <linux/filter.h>

static int fail_close(int fd)
{
	int e = errno;
	close(fd);
	return -e;
}

// What every output socket sets: the interface multicast leaves by, the TTL (hop limit) of
// multicast and unicast alike, no loopback of our own multicast, the TOS (traffic class) byte.
// 0, or -1 with errno set.
static int output_opts(int fd, int family, int ifindex, int ttl, int tos)
{
	if (family == 6) {
		int zero = 0;
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof(ttl)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof(zero)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos)) < 0)
			return -1;
		return 0;
	}
	struct ip_mreqn mr = { .imr_ifindex = ifindex };
	unsigned char mttl = (unsigned char)ttl, loop = 0;
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &mttl, sizeof(mttl)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)) < 0)
		return -1;
	return 0;
}

// SNDBUFFORCE needs CAP_NET_ADMIN, which only the supervisor has; fall back quietly.
static void send_buffer(int fd, int sndbuf)
{
	if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
}

// A UDP socket bound to one interface and connected to its destination, so egress sends with
// plain IORING_OP_SEND and the kernel caches the route. group_be/port/src_port are network order.
// Every worker has its own socket per output; they share one source port (src_port, 0 = pick
// one) through SO_REUSEPORT, so receivers see one sender per output however many workers run.
int mr_egress_socket(const char *ifname, int ifindex, unsigned group_be, unsigned port,
                     int ttl, int tos, int sndbuf, unsigned src_port, int no_check)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		return fail_close(fd);
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = (unsigned short)src_port };
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
		return fail_close(fd);
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, strlen(ifname)) < 0)
		return fail_close(fd);
	if (output_opts(fd, 4, ifindex, ttl, tos) < 0)
		return fail_close(fd);
	// An output that asked for no UDP checksum (0 on the wire, which IPv4 allows).
	if (no_check && setsockopt(fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)) < 0)
		return fail_close(fd);
	send_buffer(fd, sndbuf);
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = (unsigned short)port,
				   .sin_addr.s_addr = group_be };
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		return fail_close(fd);
	return fd;
}

// The IPv6 counterpart of mr_egress_socket: addr16 is the destination's 16 bytes; hops the hop
// limit (unicast and multicast alike), tclass the traffic class byte. scope: the destination is
// link-local (fe80::/10, ff02::/16) and needs the interface as its zone. IPV6_V6ONLY keeps it out
// of IPv4's port space. IPv6 has no "no checksum": the kernel always computes it.
int mr_egress_socket6(const char *ifname, int ifindex, const unsigned char *addr16, unsigned port,
                      int hops, int tclass, int sndbuf, unsigned src_port, int scope)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		return fail_close(fd);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		return fail_close(fd);
	struct sockaddr_in6 src = { .sin6_family = AF_INET6, .sin6_port = (unsigned short)src_port };
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
		return fail_close(fd);
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, strlen(ifname)) < 0)
		return fail_close(fd);
	if (output_opts(fd, 6, ifindex, hops, tclass) < 0)
		return fail_close(fd);
	send_buffer(fd, sndbuf);
	struct sockaddr_in6 dst = { .sin6_family = AF_INET6, .sin6_port = (unsigned short)port,
				    .sin6_scope_id = scope ? (unsigned)ifindex : 0 };
	memcpy(&dst.sin6_addr, addr16, 16);
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		return fail_close(fd);
	return fd;
}

// A raw IP socket of protocol proto (not UDP: e.g. ESP) for an output: the kernel builds the IPv4
// or IPv6 header (TTL or hop limit, TOS or traffic class, the interface's address) and a send is
// the protocol's payload, whole. Bound to the interface and connected to addr (4 or 16 bytes,
// network order; scope: an IPv6 link-local destination). A raw socket also receives every packet
// of its protocol: a drop-all filter keeps that from ever queueing, since nothing reads it.
int mr_raw_ip_socket(int family, int proto, const char *ifname, int ifindex, const unsigned char *addr,
                     int ttl, int tos, int sndbuf, int scope)
{
	int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return -errno;
	struct sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { .len = 1, .filter = &drop_all };
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return fail_close(fd);
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, strlen(ifname)) < 0)
		return fail_close(fd);
	if (output_opts(fd, family, ifindex, ttl, tos) < 0)
		return fail_close(fd);
	send_buffer(fd, sndbuf);
	int rc;
	if (family == 6) {
		struct sockaddr_in6 dst = { .sin6_family = AF_INET6, .sin6_scope_id = scope ? (unsigned)ifindex : 0 };
		memcpy(&dst.sin6_addr, addr, 16);
		rc = connect(fd, (struct sockaddr *)&dst, sizeof(dst));
	} else {
		struct sockaddr_in dst = { .sin_family = AF_INET };
		memcpy(&dst.sin_addr, addr, 4);
		rc = connect(fd, (struct sockaddr *)&dst, sizeof(dst));
	}
	return rc < 0 ? fail_close(fd) : fd;
}

// The socket's local port (network order), or -errno. The port is at the same place in
// sockaddr_in and sockaddr_in6.
int mr_local_port(int fd)
{
	struct sockaddr_in6 a;
	socklen_t len = sizeof(a);
	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -errno;
	return a.sin6_port;
}

// The helper socket only joins groups (IGMP, NIC MAC filter); it binds an ephemeral port and a
// minimal buffer so it never holds the traffic that AF_PACKET receives (seed D6).
int mr_helper_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int small = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct sockaddr_in any = { .sin_family = AF_INET };
	if (bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0)
		return fail_close(fd);
	return fd;
}

// The IPv6 helper socket: the same, for MLD.
int mr_helper_socket6(void)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int small = 1, one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	struct sockaddr_in6 any = { .sin6_family = AF_INET6 };
	if (bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0)
		return fail_close(fd);
	return fd;
}

// Joins or leaves an IPv6 group (16 bytes) on ifindex; source16 != NULL makes it
// source-specific: the kernel reports it with MLDv2 (an INCLUDE record naming the source).
int mr_helper_member6(int fd, int ifindex, const unsigned char *group16, const unsigned char *source16, int join)
{
	if (!source16) {
		struct group_req gr = { .gr_interface = (unsigned)ifindex };
		struct sockaddr_in6 *g = (struct sockaddr_in6 *)&gr.gr_group;
		g->sin6_family = AF_INET6;
		memcpy(&g->sin6_addr, group16, 16);
		int op = join ? MCAST_JOIN_GROUP : MCAST_LEAVE_GROUP;
		return setsockopt(fd, IPPROTO_IPV6, op, &gr, sizeof(gr)) < 0 ? -errno : 0;
	}
	struct group_source_req gsr = { .gsr_interface = (unsigned)ifindex };
	struct sockaddr_in6 *g = (struct sockaddr_in6 *)&gsr.gsr_group;
	g->sin6_family = AF_INET6;
	memcpy(&g->sin6_addr, group16, 16);
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&gsr.gsr_source;
	s->sin6_family = AF_INET6;
	memcpy(&s->sin6_addr, source16, 16);
	int op = join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP;
	return setsockopt(fd, IPPROTO_IPV6, op, &gsr, sizeof(gsr)) < 0 ? -errno : 0;
}

// Joins (join != 0) or leaves group on ifindex; source_be != 0 makes it source-specific (IGMPv3).
// One call per group, so changing one rule never makes the other groups leave and re-join.
int mr_helper_member(int fd, int ifindex, unsigned group_be, unsigned source_be, int join)
{
	if (source_be == 0) {
		struct ip_mreqn mr = { .imr_multiaddr.s_addr = group_be, .imr_ifindex = ifindex };
		int op = join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP;
		return setsockopt(fd, IPPROTO_IP, op, &mr, sizeof(mr)) < 0 ? -errno : 0;
	}
	struct group_source_req gsr = { .gsr_interface = (unsigned)ifindex };
	struct sockaddr_in *g = (struct sockaddr_in *)&gsr.gsr_group;
	struct sockaddr_in *s = (struct sockaddr_in *)&gsr.gsr_source;
	g->sin_family = AF_INET;
	g->sin_addr.s_addr = group_be;
	s->sin_family = AF_INET;
	s->sin_addr.s_addr = source_be;
	int op = join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP;
	return setsockopt(fd, IPPROTO_IP, op, &gsr, sizeof(gsr)) < 0 ? -errno : 0;
}

int mr_if_index(const char *ifname)
{
	return (int)if_nametoindex(ifname);
}

int mr_close(int fd)
{
	return close(fd) < 0 ? -errno : 0;
}
