// Raw frames for the lab and the tests: write hand-made frames onto a link, capture what arrives.
#include <errno.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <unistd.h>

int mr_raw_open(int ifindex)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0)
		return -errno;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = ifindex };
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	// A capture that falls behind for a moment must not lose frames: ask for a big buffer
	// (FORCE ignores rmem_max; it needs CAP_NET_ADMIN, which the lab tools run with).
	int big = 16 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return fd;
}

int mr_raw_send(int fd, const void *frame, unsigned len)
{
	ssize_t n = send(fd, frame, len, 0);
	return n < 0 ? -errno : (int)n;
}

// Receives one frame that arrived on the link (outgoing ones are skipped); waits up to timeout_ms.
int mr_raw_recv(int fd, void *buf, unsigned cap, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, cap, MSG_TRUNC, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return -errno;
		if (from.sll_pkttype != PACKET_OUTGOING)
			return (int)n;
	}
}
