// Egress sends through io_uring: queue many, submit once, reap every completion each turn.
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <liburing.h>

struct mr_tosmsg {
	struct msghdr msg;
	struct iovec iov;
	char ctl[CMSG_SPACE(sizeof(int))];
};

struct mr_uring {
	struct io_uring ring;
	struct mr_tosmsg *tos; /* one per SQ entry */
	int defer;             /* DEFER_TASKRUN: completions are only run when we ask for events */
	unsigned nfixed;       /* registered-file table size; a socket's slot is its fd number */
	unsigned char *fixed;  /* fixed[fd]: fd is registered at slot fd */
};

// cq_entries: the completion queue's size, which the caller keeps its in-flight sends below.
void *mr_uring_new(unsigned entries, unsigned cq_entries, unsigned flags)
{
	struct mr_uring *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	struct io_uring_params p = { .flags = flags, .cq_entries = cq_entries };
	p.flags |= IORING_SETUP_CQSIZE;
	if (io_uring_queue_init_params(entries, &u->ring, &p) < 0) {
		free(u);
		return NULL;
	}
	u->defer = (flags & IORING_SETUP_DEFER_TASKRUN) != 0;
	u->tos = calloc(*u->ring.sq.kring_entries, sizeof(*u->tos));
	if (!u->tos) {
		io_uring_queue_exit(&u->ring);
		free(u);
		return NULL;
	}
	return u;
}

void mr_uring_free(void *h)
{
	struct mr_uring *u = h;
	io_uring_queue_exit(&u->ring);
	free(u->tos);
	free(u->fixed);
	free(u);
}

// A sparse registered-file table of n slots: sends on a registered socket skip the per-request
// file lookup and reference count.
int mr_uring_files(void *h, unsigned n)
{
	struct mr_uring *u = h;
	u->fixed = calloc(n, 1);
	if (!u->fixed)
		return -ENOMEM;
	int rc = io_uring_register_files_sparse(&u->ring, n);
	if (rc < 0) {
		free(u->fixed);
		u->fixed = NULL;
		return rc;
	}
	u->nfixed = n;
	return 0;
}

// Registers fd in slot fd (on >= 0) or empties that slot (on < 0).
int mr_uring_file(void *h, int fd, int on)
{
	struct mr_uring *u = h;
	if (fd < 0 || (unsigned)fd >= u->nfixed)
		return -EBADF;
	int v = on ? fd : -1;
	int rc = io_uring_register_files_update(&u->ring, (unsigned)fd, &v, 1);
	if (rc < 0)
		return rc;
	u->fixed[fd] = on ? 1 : 0;
	return 0;
}

static void use_fixed(struct mr_uring *u, struct io_uring_sqe *sqe, int fd)
{
	if ((unsigned)fd < u->nfixed && u->fixed[fd])
		sqe->flags |= IOSQE_FIXED_FILE;
}

// A free SQE, submitting what is queued first when the SQ is full; NULL if even that fails.
static struct io_uring_sqe *get_sqe(struct mr_uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	if (!sqe && io_uring_submit(&u->ring) >= 0)
		sqe = io_uring_get_sqe(&u->ring);
	return sqe;
}

// Queues one send of buf[0..len) on a connected socket. Submits first when the SQ is full.
int mr_uring_send(void *h, int fd, const void *buf, unsigned len, unsigned user_data)
{
	struct mr_uring *u = h;
	struct io_uring_sqe *sqe = get_sqe(u);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_send(sqe, fd, buf, len, 0);
	use_fixed(u, sqe, fd);
	io_uring_sqe_set_data64(sqe, user_data);
	return 0;
}

// Queues one send whose IP TOS byte is set per packet (an IP_TOS control message): for outputs
// that preserve the input's DSCP. The msghdr lives in a per-SQE slot until submission, which is
// enough: the kernel copies it when the request is prepared (IORING_FEAT_SUBMIT_STABLE).
int mr_uring_send_tos(void *h, int fd, const void *buf, unsigned len, int tos, unsigned user_data)
{
	struct mr_uring *u = h;
	struct io_uring_sqe *sqe = get_sqe(u);
	if (!sqe)
		return -EBUSY;
	unsigned i = (unsigned)(sqe - u->ring.sq.sqes);
	struct mr_tosmsg *m = &u->tos[i];
	m->iov = (struct iovec){ .iov_base = (void *)buf, .iov_len = len };
	m->msg = (struct msghdr){ .msg_iov = &m->iov, .msg_iovlen = 1, .msg_control = m->ctl, .msg_controllen = sizeof(m->ctl) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m->msg);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_TOS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &tos, sizeof(int));
	io_uring_prep_sendmsg(sqe, fd, &m->msg, 0);
	use_fixed(u, sqe, fd);
	io_uring_sqe_set_data64(sqe, user_data);
	return 0;
}

// Submits what is queued (waiting for wait_nr completions), then copies out every ready
// completion as {user_data, res} pairs. Returns how many pairs, or -errno.
int mr_uring_flush(void *h, int32_t *out, unsigned max, unsigned wait_nr)
{
	struct mr_uring *u = h;
	int rc = u->defer && wait_nr == 0 ? io_uring_submit_and_get_events(&u->ring)
	                                   : io_uring_submit_and_wait(&u->ring, wait_nr);
	if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
		return rc;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	io_uring_for_each_cqe(&u->ring, head, cqe) {
		if (n == max)
			break;
		out[2 * n] = (int32_t)cqe->user_data;
		out[2 * n + 1] = cqe->res;
		n++;
	}
	io_uring_cq_advance(&u->ring, n);
	return (int)n;
}
