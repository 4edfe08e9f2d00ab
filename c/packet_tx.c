// AF_PACKET send sockets for raw egress: bound to one interface, receiving nothing. Egress sends
// whole frames on them through io_uring (uring.c, mr_uring_send_raw).
#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_packet.h>

// Protocol 0: the socket is never handed a received frame, so it costs nothing on the receive
// path. sndbuf bounds the frames queued in the kernel; a big one keeps io_uring from meeting
// EAGAIN (its retry could reorder a burst). SNDBUFFORCE: the supervisor has CAP_NET_ADMIN.
// qdisc_bypass: hand frames straight to the driver, past the interface's queueing discipline
// (faster; but no shaping, and a full device queue drops instead of queueing).
// vnet_hdr: each frame sent is preceded by a virtio_net_hdr (a link sends frames on as they came:
// a super-frame is segmented, and a partial checksum completed, by the kernel or the device).
int mr_packet_tx_open(int ifindex, int sndbuf, int qdisc_bypass, int vnet_hdr)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex };
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0)
		goto fail;
	int on = 1;
	if (vnet_hdr && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &on, sizeof(on)) < 0)
		goto fail;
	if (qdisc_bypass && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &qdisc_bypass, sizeof(qdisc_bypass)) < 0)
		goto fail;
	return fd;
fail:;
	int e = errno;
	close(fd);
	return -e;
}
