// Egress sends through io_uring: queue many, submit once, reap every completion each turn.
#include <errno.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <liburing.h>
#include <linux/virtio_net.h>
#include "csum.h"

// Linux 5.0's UDP segmentation by a packet socket's virtio_net_hdr; older uapi headers lack the name.
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

struct mr_tosmsg {
	struct msghdr msg;
	struct iovec iov;
	char ctl[CMSG_SPACE(sizeof(int))];
};

// A raw send's own frame header and message, alive until its completion: the payload stays in
// its pool slot and goes out as the second half of a two-part gather, so it is never copied per
// output (and io_uring may retry a send after submission, so the header cannot live in the SQE).
struct mr_rawmsg {
	struct msghdr msg;
	struct iovec iov[2];
	unsigned char hdr[64];
};

// An output's prebuilt header (TypeScript builds it once per output, services/egress/raw-frame.ts):
// Ethernet + IPv4 + UDP (42 bytes), or with MR_RAW_V6 Ethernet + IPv6 + UDP (62 bytes), with the
// lengths, IP ID and checksums zero; sums of the fixed words, so a send only adds what varies; the
// IP ID counter (IPv4); whether to compute the UDP checksum (always, for IPv6) and copy the
// packet's TOS (IPv6: its traffic class).
struct mr_rawtmpl {
	unsigned char hdr[62];
	uint16_t ip_id;
	uint32_t ip_sum;  /* ones'-complement sum of the IPv4 header's fixed 16-bit words (host order) */
	uint32_t udp_sum; /* of the pseudo-header's addresses and protocol and the UDP ports */
	uint8_t flags;    /* MR_RAW_CSUM | MR_RAW_TOS | MR_RAW_V6 */
};
#define MR_RAW_CSUM 1
#define MR_RAW_TOS 2
#define MR_RAW_V6 4
#define MR_NO_SUM 0xffffffffu

int mr_rawtmpl_size(void)
{
	return (int)sizeof(struct mr_rawtmpl);
}

int mr_rawtmpl_offsets(int *out)
{
	out[0] = (int)offsetof(struct mr_rawtmpl, ip_id);
	out[1] = (int)offsetof(struct mr_rawtmpl, ip_sum);
	out[2] = (int)offsetof(struct mr_rawtmpl, udp_sum);
	out[3] = (int)offsetof(struct mr_rawtmpl, flags);
	return 4;
}

// A GSO send: a virtio_net_hdr, one header for the whole super-frame, and the k payloads, each in
// its own slot, gathered (k <= MR_GSO_MAX; the kernel cuts a super-frame into at most 128).
#define MR_GSO_MAX 64
struct mr_gsomsg {
	struct msghdr msg;
	struct iovec iov[2 + MR_GSO_MAX];
	struct virtio_net_hdr vh;
	unsigned char hdr[64];
};
int mr_uring_gso_max(void)
{
	return MR_GSO_MAX;
}

// A completion's user data carries its message's index + 1 in bits 52..63: a raw one's below
// MR_GSO_BASE, a GSO one's from it.
#define MR_GSO_BASE 2048

struct mr_uring {
	struct io_uring ring;
	struct mr_tosmsg *tos; /* one per SQ entry */
	struct mr_rawmsg *raw; /* one per possible completion: a raw send holds one until it completes */
	unsigned *raw_free;    /* stack of free raw indices */
	unsigned raw_nfree;
	struct mr_gsomsg *gso; /* as raw, for GSO sends; allocated at the first */
	unsigned *gso_free;
	unsigned gso_nfree;
	unsigned cq_entries;
	int defer;             /* DEFER_TASKRUN: completions are only run when we ask for events */
	unsigned nfixed;       /* registered-file table size; a socket's slot is its fd number */
	unsigned char *fixed;  /* fixed[fd]: fd is registered at slot fd */
};

// cq_entries: the completion queue's size, which the caller keeps its in-flight sends below.
void *mr_uring_new(unsigned entries, unsigned cq_entries, unsigned flags)
{
	if (cq_entries >= MR_GSO_BASE) // a message's index + 1 must fit below MR_GSO_BASE
		return NULL;
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
	u->raw = calloc(cq_entries, sizeof(*u->raw));
	u->raw_free = calloc(cq_entries, sizeof(*u->raw_free));
	if (!u->tos || !u->raw || !u->raw_free) {
		io_uring_queue_exit(&u->ring);
		free(u->tos);
		free(u->raw);
		free(u->raw_free);
		free(u);
		return NULL;
	}
	for (unsigned i = 0; i < cq_entries; i++)
		u->raw_free[u->raw_nfree++] = cq_entries - 1 - i;
	u->cq_entries = cq_entries;
	return u;
}

void mr_uring_free(void *h)
{
	struct mr_uring *u = h;
	io_uring_queue_exit(&u->ring);
	free(u->tos);
	free(u->raw);
	free(u->raw_free);
	free(u->gso);
	free(u->gso_free);
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
int mr_uring_send(void *h, int fd, const void *buf, unsigned len, uint64_t user_data)
{
	struct mr_uring *u = h;
	struct io_uring_sqe *sqe = get_sqe(u);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_send(sqe, fd, buf, len, 0);
	use_fixed(u, sqe, fd);
	io_uring_sqe_set_data64(sqe, user_data & ((1ull << 52) - 1));
	return 0;
}

// Queues one send whose IP TOS byte is set per packet (an IP_TOS control message; v6: the traffic
// class, IPV6_TCLASS): for outputs that preserve the input's DSCP. The msghdr lives in a per-SQE
// slot until submission, which is enough: the kernel copies it when the request is prepared
// (IORING_FEAT_SUBMIT_STABLE).
int mr_uring_send_tos(void *h, int fd, const void *buf, unsigned len, int tos, int v6, uint64_t user_data)
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
	c->cmsg_level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
	c->cmsg_type = v6 ? IPV6_TCLASS : IP_TOS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &tos, sizeof(int));
	io_uring_prep_sendmsg(sqe, fd, &m->msg, 0);
	use_fixed(u, sqe, fd);
	io_uring_sqe_set_data64(sqe, user_data & ((1ull << 52) - 1));
	return 0;
}

// The UDP checksum at p[at..at+2): the template's sum (addresses, protocol, ports), the UDP length
// twice (pseudo-header and header) and the payload's sum. The pseudo-header's length is 32 bits
// in IPv6, but a frame's UDP length fits 16, so the sum is the same for both families.
static void udp_checksum(const struct mr_rawtmpl *t, unsigned char *p, unsigned at, const void *payload, unsigned len,
			 unsigned payload_sum)
{
	unsigned udp_len = 8 + len;
	uint32_t ps = payload_sum == MR_NO_SUM ? mr_sum(payload, len) : payload_sum;
	uint32_t uc = ~mr_fold((uint64_t)t->udp_sum + udp_len + udp_len + ps) & 0xffff;
	if (uc == 0)
		uc = 0xffff; // 0 means "no checksum" in UDP
	p[at] = uc >> 8, p[at + 1] = uc & 0xff;
}

// Ethernet + IPv4 + UDP for len bytes of UDP payload: lengths, IP ID (the template's counter
// advances by ids: a GSO super-frame's segments take one each), TOS when preserved, the header
// checksum. The UDP checksum is the caller's.
static void v4_header(struct mr_rawtmpl *t, unsigned char *p, unsigned len, unsigned tos, unsigned ids)
{
	memcpy(p, t->hdr, 42);
	unsigned ip_len = 28 + len, udp_len = 8 + len, id = t->ip_id;
	t->ip_id = (uint16_t)(id + ids);
	uint64_t ipsum = t->ip_sum + ip_len + id;
	if (t->flags & MR_RAW_TOS) {
		p[15] = (unsigned char)tos;
		ipsum += tos & 0xff;
	}
	p[16] = ip_len >> 8, p[17] = ip_len & 0xff;
	p[18] = id >> 8, p[19] = id & 0xff;
	uint32_t c = ~mr_fold(ipsum) & 0xffff;
	p[24] = c >> 8, p[25] = c & 0xff;
	p[38] = udp_len >> 8, p[39] = udp_len & 0xff;
}

// Ethernet + IPv4 + UDP: v4_header, then the UDP checksum when the output computes one.
static void raw_v4(struct mr_rawtmpl *t, unsigned char *p, const void *payload, unsigned len, unsigned tos, unsigned payload_sum)
{
	v4_header(t, p, len, tos, 1);
	if (t->flags & MR_RAW_CSUM)
		udp_checksum(t, p, 40, payload, len, payload_sum);
}

// Ethernet + IPv6 + UDP: the payload length (the UDP datagram: no extension headers), the traffic
// class when preserved (version 6 and a flow label of 0 around it), the UDP length and checksum,
// which IPv6 requires. No header checksum, no ID.
static void raw_v6(struct mr_rawtmpl *t, unsigned char *p, const void *payload, unsigned len, unsigned tos, unsigned payload_sum)
{
	memcpy(p, t->hdr, 62);
	unsigned udp_len = 8 + len;
	if (t->flags & MR_RAW_TOS) {
		p[14] = (unsigned char)(0x60 | ((tos & 0xff) >> 4));
		p[15] = (unsigned char)((tos & 0x0f) << 4);
	}
	p[18] = udp_len >> 8, p[19] = udp_len & 0xff;
	p[58] = udp_len >> 8, p[59] = udp_len & 0xff;
	udp_checksum(t, p, 60, payload, len, payload_sum);
}

// Queues one frame on a packet socket bound to the output interface: the output's header (from
// its template, with this packet's lengths, IP ID, TOS and checksums) and the payload, gathered.
// payload_sum: the payload's ones'-complement sum from ingress, or MR_NO_SUM (then computed here
// when the UDP checksum is wanted). user_data's low 52 bits come back with the completion.
int mr_uring_send_raw(void *h, int fd, struct mr_rawtmpl *t, const void *payload, unsigned len, unsigned tos,
		      unsigned payload_sum, uint64_t user_data)
{
	struct mr_uring *u = h;
	if (u->raw_nfree == 0)
		return -EBUSY;
	struct io_uring_sqe *sqe = get_sqe(u);
	if (!sqe)
		return -EBUSY;
	unsigned idx = u->raw_free[--u->raw_nfree];
	struct mr_rawmsg *m = &u->raw[idx];
	unsigned char *p = m->hdr;
	unsigned hlen = (t->flags & MR_RAW_V6) ? 62 : 42;
	if (t->flags & MR_RAW_V6)
		raw_v6(t, p, payload, len, tos, payload_sum);
	else
		raw_v4(t, p, payload, len, tos, payload_sum);
	m->iov[0] = (struct iovec){ .iov_base = p, .iov_len = hlen };
	m->iov[1] = (struct iovec){ .iov_base = (void *)payload, .iov_len = len };
	m->msg = (struct msghdr){ .msg_iov = m->iov, .msg_iovlen = 2 };
	io_uring_prep_sendmsg(sqe, fd, &m->msg, 0);
	use_fixed(u, sqe, fd);
	io_uring_sqe_set_data64(sqe, (user_data & ((1ull << 52) - 1)) | ((uint64_t)(idx + 1) << 52));
	return 0;
}

// Queues k payloads of len bytes each (addresses in addrs: doubles, which hold any user-space
// address exactly and are what TypeScript writes) to a GSO output's packet socket (PACKET_VNET_HDR):
// for k >= 2 one UDP GSO super-frame — the header's lengths are the whole's, its IP ID the first
// segment's (the kernel numbers the rest), its UDP checksum the pseudo-header's partial sum, which
// the segments' checksums are completed from by the interface or the kernel; for k = 1 a plain
// frame as mr_uring_send_raw builds it, behind an empty virtio_net_hdr. The template's IP ID
// advances by k. One completion for the whole; its result is the bytes sent.
int mr_uring_send_gso(void *h, int fd, struct mr_rawtmpl *t, const double *addrs, unsigned k, unsigned len, unsigned tos,
		      unsigned payload_sum, uint64_t user_data)
{
	struct mr_uring *u = h;
	if (k == 0 || k > MR_GSO_MAX || (t->flags & MR_RAW_V6))
		return -EINVAL;
	if (!u->gso) {
		u->gso = calloc(u->cq_entries, sizeof(*u->gso));
		u->gso_free = calloc(u->cq_entries, sizeof(*u->gso_free));
		if (!u->gso || !u->gso_free) {
			free(u->gso);
			free(u->gso_free);
			u->gso = NULL;
			u->gso_free = NULL;
			return -ENOMEM;
		}
		for (unsigned i = 0; i < u->cq_entries; i++)
			u->gso_free[u->gso_nfree++] = u->cq_entries - 1 - i;
	}
	if (u->gso_nfree == 0)
		return -EBUSY;
	struct io_uring_sqe *sqe = get_sqe(u);
	if (!sqe)
		return -EBUSY;
	unsigned idx = u->gso_free[--u->gso_nfree];
	struct mr_gsomsg *m = &u->gso[idx];
	unsigned char *p = m->hdr;
	m->vh = (struct virtio_net_hdr){ 0 };
	if (k == 1) {
		raw_v4(t, p, (const void *)(uintptr_t)addrs[0], len, tos, payload_sum);
	} else {
		v4_header(t, p, k * len, tos, k);
		unsigned udp_len = 8 + k * len;
		// The template's UDP sum holds the ports too; a partial checksum is the pseudo-header's alone.
		unsigned ports = ((unsigned)p[34] << 8 | p[35]) + ((unsigned)p[36] << 8 | p[37]);
		uint32_t partial = mr_fold((uint64_t)t->udp_sum - ports + udp_len) & 0xffff;
		p[40] = partial >> 8, p[41] = partial & 0xff;
		m->vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		m->vh.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
		m->vh.hdr_len = 42;
		m->vh.gso_size = (uint16_t)len;
		m->vh.csum_start = 34;
		m->vh.csum_offset = 6;
	}
	m->iov[0] = (struct iovec){ .iov_base = &m->vh, .iov_len = sizeof(m->vh) };
	m->iov[1] = (struct iovec){ .iov_base = p, .iov_len = 42 };
	for (unsigned i = 0; i < k; i++)
		m->iov[2 + i] = (struct iovec){ .iov_base = (void *)(uintptr_t)addrs[i], .iov_len = len };
	m->msg = (struct msghdr){ .msg_iov = m->iov, .msg_iovlen = 2 + k };
	io_uring_prep_sendmsg(sqe, fd, &m->msg, 0);
	use_fixed(u, sqe, fd);
	io_uring_sqe_set_data64(sqe, (user_data & ((1ull << 52) - 1)) | ((uint64_t)(MR_GSO_BASE + idx + 1) << 52));
	return 0;
}

// Submits what is queued (waiting for wait_nr completions), then copies out every ready
// completion as {user_data low 32 bits, res, user_data bits 32..51} triples; a raw or GSO send's message
// goes back to its pool. Returns how many triples, or -errno.
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
		uint64_t d = cqe->user_data;
		unsigned raw = (unsigned)(d >> 52);
		if (raw > MR_GSO_BASE)
			u->gso_free[u->gso_nfree++] = raw - MR_GSO_BASE - 1;
		else if (raw)
			u->raw_free[u->raw_nfree++] = raw - 1;
		out[3 * n] = (int32_t)(uint32_t)d;
		out[3 * n + 1] = cqe->res;
		out[3 * n + 2] = (int32_t)((d >> 32) & 0xfffff);
		n++;
	}
	io_uring_cq_advance(&u->ring, n);
	return (int)n;
}
