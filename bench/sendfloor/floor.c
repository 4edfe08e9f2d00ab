// The cost of one raw multicast frame out of a veth, with no relay around it: the floor under
// egress's per-copy CPU. bench/sendfloor.ts builds this and runs it in namespaces it made.
//   floor join IFNAME GROUP                      join GROUP on IFNAME (IP level) and wait
//   floor send MODE IFNAME FRAMES PAYLOAD BATCH  send FRAMES frames to 239.1.1.1:5001, print JSON
// MODE: uring    — what egress does: io_uring sendmsg of a two-part gather [header, payload]
//       sendmmsg — the same gathers, one sendmmsg(2) per batch
//       txring   — PACKET_TX_RING (TPACKET_V2): header and payload copied into the ring, one send(2) per batch
//       gso      — as a gso output sends: one sendmsg(2) of [virtio_net_hdr, header, BATCH payloads] (at most
//                  64, and 64 KiB), a UDP GSO super-frame the interface or the kernel cuts into datagrams
// On a veth the receiving namespace's input (IP, its multicast route, UDP) runs inside the send,
// so the time per frame is the sender's and the receiver's, as in egress.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <liburing.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HDR 42
static unsigned char hdr[HDR];
static unsigned char payload[1500];

static unsigned short ip_csum(const unsigned char *p, int n)
{
	unsigned s = 0;
	for (int i = 0; i < n; i += 2)
		s += (p[i] << 8) | p[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (unsigned short)~s;
}

// Ethernet to the group's MAC, IPv4 (valid header checksum), UDP without a checksum (0 is allowed for IPv4).
static void build(int plen)
{
	static const unsigned char h[] = { 1, 0, 0x5e, 1, 1, 1, 2, 0, 0, 0, 0, 1, 8, 0 };
	memcpy(hdr, h, sizeof(h));
	unsigned char *ip = hdr + 14, *u = ip + 20;
	int tl = 28 + plen, ul = 8 + plen;
	unsigned char iph[20] = { 0x45, 0, tl >> 8, tl & 0xff, 0, 1, 0x40, 0, 8, 17 };
	memcpy(ip, iph, 20);
	inet_pton(AF_INET, "10.99.0.1", ip + 12);
	inet_pton(AF_INET, "239.1.1.1", ip + 16);
	unsigned short c = ip_csum(ip, 20);
	ip[10] = c >> 8;
	ip[11] = c & 0xff;
	unsigned char uh[8] = { 0x17, 0x70, 0x13, 0x89, ul >> 8, ul & 0xff, 0, 0 };
	memcpy(u, uh, 8);
}

static double secs(clockid_t clk)
{
	struct timespec t;
	clock_gettime(clk, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static long send_uring(int fd, long total, int plen, int batch)
{
	struct io_uring r;
	if (io_uring_queue_init(batch, &r, 0) < 0)
		return -1;
	struct msghdr *msg = calloc(batch, sizeof(*msg));
	struct iovec *iov = calloc(2 * batch, sizeof(*iov));
	long errors = 0;
	for (long sent = 0; sent < total; sent += batch) {
		for (int i = 0; i < batch; i++) {
			iov[2 * i] = (struct iovec){ hdr, HDR };
			iov[2 * i + 1] = (struct iovec){ payload, plen };
			msg[i] = (struct msghdr){ .msg_iov = iov + 2 * i, .msg_iovlen = 2 };
			io_uring_prep_sendmsg(io_uring_get_sqe(&r), fd, &msg[i], 0);
		}
		io_uring_submit_and_wait(&r, batch);
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&r, head, cqe) {
			errors += cqe->res < 0;
			n++;
		}
		io_uring_cq_advance(&r, n);
	}
	return errors;
}

static long send_mmsg(int fd, long total, int plen, int batch)
{
	struct mmsghdr *mm = calloc(batch, sizeof(*mm));
	struct iovec *iov = calloc(2 * batch, sizeof(*iov));
	long errors = 0;
	for (long sent = 0; sent < total;) {
		for (int i = 0; i < batch; i++) {
			iov[2 * i] = (struct iovec){ hdr, HDR };
			iov[2 * i + 1] = (struct iovec){ payload, plen };
			mm[i].msg_hdr = (struct msghdr){ .msg_iov = iov + 2 * i, .msg_iovlen = 2 };
		}
		int n = sendmmsg(fd, mm, batch, 0);
		if (n <= 0) {
			errors++;
			n = batch;
		}
		sent += n;
	}
	return errors;
}

// A frame is ours again once the kernel frees its skb; a full ring waits for that in poll().
static long send_txring(int fd, long total, int plen, int batch)
{
	int v = TPACKET_V2;
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0)
		return -1;
	struct tpacket_req req = { .tp_block_size = 1 << 16, .tp_frame_size = 2048, .tp_block_nr = 64 };
	req.tp_frame_nr = req.tp_block_nr * (req.tp_block_size / req.tp_frame_size);
	if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req)) < 0)
		return -1;
	unsigned char *map = mmap(NULL, (size_t)req.tp_block_size * req.tp_block_nr, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -1;
	const int off = TPACKET2_HDRLEN - sizeof(struct sockaddr_ll);
	unsigned at = 0;
	long errors = 0;
	for (long sent = 0; sent < total;) {
		int q = 0;
		for (; q < batch; q++) {
			struct tpacket2_hdr *h = (void *)(map + (size_t)at * req.tp_frame_size);
			if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE)
				break;
			memcpy((unsigned char *)h + off, hdr, HDR);
			memcpy((unsigned char *)h + off + HDR, payload, plen);
			h->tp_len = HDR + plen;
			__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
			at = (at + 1) % req.tp_frame_nr;
		}
		if (send(fd, NULL, 0, 0) < 0)
			errors++;
		if (q == 0) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			poll(&p, 1, 10);
		}
		sent += q;
	}
	return errors;
}

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

// The header says the whole's lengths and carries the pseudo-header's partial sum (NEEDS_CSUM):
// each segment's checksum is completed from it, as mr_uring_send_gso (c/uring.c) does.
static long gso_sent; // whole super-frames: FRAMES rounded up to a multiple of the datagrams in one
static long send_gso(int fd, long total, int plen, int batch)
{
	int on = 1;
	if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &on, sizeof(on)) < 0)
		return -1;
	int k = batch > 64 ? 64 : batch;
	if (k * plen > 65507)
		k = 65507 / plen;
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_UDP_L4,
				     .hdr_len = HDR, .gso_size = plen, .csum_start = 34, .csum_offset = 6 };
	unsigned char sh[HDR];
	memcpy(sh, hdr, HDR);
	unsigned char *ip = sh + 14, *u = ip + 20;
	int tl = 28 + k * plen, ul = 8 + k * plen;
	ip[2] = tl >> 8, ip[3] = tl & 0xff, ip[10] = ip[11] = 0;
	unsigned short c = ip_csum(ip, 20);
	ip[10] = c >> 8, ip[11] = c & 0xff;
	u[4] = ul >> 8, u[5] = ul & 0xff;
	unsigned sum = 17 + ul;
	for (int i = 12; i < 20; i += 2)
		sum += (ip[i] << 8) | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	u[6] = sum >> 8, u[7] = sum & 0xff;
	struct iovec *iov = calloc(k + 2, sizeof(*iov));
	iov[0] = (struct iovec){ &vh, sizeof(vh) };
	iov[1] = (struct iovec){ sh, HDR };
	for (int i = 0; i < k; i++)
		iov[2 + i] = (struct iovec){ payload, plen };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = k + 2 };
	long errors = 0, sent = 0;
	for (; sent < total; sent += k)
		errors += sendmsg(fd, &m, 0) < 0;
	gso_sent = sent;
	return errors;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "join")) {
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		struct ip_mreqn mr = { .imr_ifindex = (int)if_nametoindex(argv[2]) };
		inet_pton(AF_INET, argv[3], &mr.imr_multiaddr);
		if (setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
			perror("IP_ADD_MEMBERSHIP");
			return 1;
		}
		puts("joined");
		fflush(stdout);
		pause();
		return 0;
	}
	if (argc != 7 || strcmp(argv[1], "send")) {
		fprintf(stderr, "usage: floor join IFNAME GROUP | floor send uring|sendmmsg|txring|gso IFNAME FRAMES PAYLOAD BATCH\n");
		return 2;
	}
	const char *mode = argv[2];
	long total = atol(argv[4]);
	int plen = atoi(argv[5]), batch = atoi(argv[6]);
	if (plen < 0 || plen > (int)sizeof(payload) || batch < 1 || total < batch) {
		fprintf(stderr, "floor: PAYLOAD 0..%zu, BATCH >= 1, FRAMES >= BATCH\n", sizeof(payload));
		return 2;
	}
	build(plen);
	memset(payload, 0xab, sizeof(payload));
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(argv[3]) };
	int sndbuf = 8 << 20;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0) {
		perror("packet socket");
		return 1;
	}
	total -= total % batch;
	double w0 = secs(CLOCK_MONOTONIC), c0 = secs(CLOCK_PROCESS_CPUTIME_ID);
	long errors = !strcmp(mode, "uring") ? send_uring(fd, total, plen, batch)
		    : !strcmp(mode, "sendmmsg") ? send_mmsg(fd, total, plen, batch)
		    : !strcmp(mode, "txring") ? send_txring(fd, total, plen, batch)
		    : !strcmp(mode, "gso") ? send_gso(fd, total, plen, batch) : -2;
	if (errors < 0) {
		fprintf(stderr, errors == -2 ? "floor: no mode %s\n" : "floor: %s failed: %m\n", mode);
		return errors == -2 ? 2 : 1;
	}
	double wall = secs(CLOCK_MONOTONIC) - w0, cpu = secs(CLOCK_PROCESS_CPUTIME_ID) - c0;
	if (gso_sent)
		total = gso_sent;
	printf("{\"mode\":\"%s\",\"payload\":%d,\"batch\":%d,\"frames\":%ld,\"wallNs\":%.0f,\"cpuNs\":%.0f,\"errors\":%ld}\n",
	       mode, plen, batch, total, wall * 1e9, cpu * 1e9, errors);
	return 0;
}
