// Control messages between supervisor and workers: SOCK_SEQPACKET with SCM_RIGHTS fds.
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

// The most fds one message carries: c/unixmsg.ts asks for it (mr_max_fds) rather than restating it.
#define MR_MAX_FDS 250

int mr_max_fds(void)
{
	return MR_MAX_FDS;
}

int mr_socketpair(int *out)
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, out) < 0 ? -errno : 0;
}

// nonblock: -EAGAIN instead of waiting when the peer's queue is full (a stopped worker must never
// stop the supervisor).
int mr_send_msg(int sock, const void *buf, unsigned len, const int *fds, unsigned nfds, int nonblock)
{
	if (nfds > MR_MAX_FDS)
		return -E2BIG;
	char ctl[CMSG_SPACE(sizeof(int) * MR_MAX_FDS)];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds > 0) {
		memset(ctl, 0, sizeof(ctl));
		msg.msg_control = ctl;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL | (nonblock ? MSG_DONTWAIT : 0));
	return n < 0 ? -errno : (int)n;
}

// Receives one message; fds land in fds[0..*nfds). Returns its length, 0 at EOF, or -errno
// (-EAGAIN when nonblock and nothing is waiting). -EMSGSIZE when the message did not fit.
int mr_recv_msg(int sock, void *buf, unsigned cap, int *fds, unsigned maxfds, unsigned *nfds, int nonblock)
{
	char ctl[CMSG_SPACE(sizeof(int) * MR_MAX_FDS)];
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			      .msg_controllen = sizeof(ctl) };
	*nfds = 0;
	ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | (nonblock ? MSG_DONTWAIT : 0));
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (unsigned i = 0; i < k && *nfds < maxfds; i++)
			memcpy(&fds[(*nfds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EMSGSIZE;
	return (int)n;
}

// Who is at the other end of a connected Unix socket, as the kernel saw it connect (SO_PEERCRED):
// out = {pid, uid, gid}. The pid is 0 when the peer is in a pid namespace we cannot see.
int mr_peer_cred(int fd, int *out)
{
	struct ucred c;
	socklen_t len = sizeof(c);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) < 0)
		return -errno;
	out[0] = c.pid;
	out[1] = (int)c.uid;
	out[2] = (int)c.gid;
	return 0;
}
