// Packet capture of one interface for `mcrelay capture`: an AF_PACKET socket that sees every
// frame the interface receives and sends (the kernel hands a copy to each packet socket, so the
// relay's own rings lose nothing to it), each read with its kernel receive time and its VLAN tag
// put back where it was on the wire (the kernel strips it into metadata before sockets see it).
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <time.h>
#include <unistd.h>

int mr_capture_open(int ifindex)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (fd < 0)
		return -errno;
	int one = 1;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = ifindex };
	if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	// A reader that falls behind for a moment (the pcap goes through a FIFO to an HTTP client)
	// should not lose what it was asked for: a big buffer (FORCE needs CAP_NET_ADMIN, we are root).
	int big = 8 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return fd;
}

// One frame, without waiting: its captured bytes in buf (at most cap, VLAN tag reinserted) and
// meta = [length on the wire, outgoing (1) or not (0), seconds, nanoseconds, VLAN id or -1].
// Returns the captured length, or -EAGAIN when nothing is queued.
int mr_capture_recv(int fd, unsigned char *buf, unsigned cap, int *meta)
{
	if (cap < 18)
		return -EINVAL;
	struct sockaddr_ll from;
	char control[CMSG_SPACE(sizeof(struct tpacket_auxdata)) + CMSG_SPACE(sizeof(struct timespec))];
	// Leave 4 bytes for a tag to put back.
	struct iovec iov = { .iov_base = buf, .iov_len = cap - 4 };
	struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = control, .msg_controllen = sizeof(control) };
	ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0)
		return -errno;
	unsigned got = (unsigned)n < cap - 4 ? (unsigned)n : cap - 4;
	unsigned wire = (unsigned)n;
	int vlan = -1;
	struct timespec ts = { 0, 0 };
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
			struct tpacket_auxdata aux;
			memcpy(&aux, CMSG_DATA(c), sizeof(aux));
			wire = aux.tp_len;
			if (aux.tp_status & TP_STATUS_VLAN_VALID)
				vlan = aux.tp_vlan_tci;
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		}
	}
	if (ts.tv_sec == 0)
		clock_gettime(CLOCK_REALTIME, &ts);
	if (vlan >= 0 && got >= 12) {
		// dst MAC, src MAC, then the 802.1Q tag the kernel took out, then the rest.
		memmove(buf + 16, buf + 12, got - 12);
		buf[12] = 0x81;
		buf[13] = 0x00;
		buf[14] = (unsigned char)(vlan >> 8);
		buf[15] = (unsigned char)vlan;
		got += 4;
		wire += 4;
	}
	meta[0] = (int)wire;
	meta[1] = from.sll_pkttype == PACKET_OUTGOING;
	meta[2] = (int)ts.tv_sec;
	meta[3] = (int)ts.tv_nsec;
	meta[4] = vlan < 0 ? -1 : (vlan & 0xfff);
	return (int)got;
}
