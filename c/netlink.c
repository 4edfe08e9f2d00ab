// Link and IPv4/IPv6 address events from the kernel (rtnetlink), so the supervisor reacts to
// interfaces coming, going, flapping or changing address instead of polling for them.
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

int mr_netlink_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	int big = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return fd;
}

// One datagram of netlink messages, or -EAGAIN when none waits. -ENOBUFS means events were
// lost: the caller must re-read the state of every interface.
int mr_netlink_read(int fd, void *buf, unsigned cap)
{
	ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
	return n < 0 ? -errno : (int)n;
}
