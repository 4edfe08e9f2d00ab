// AF_PACKET receive sockets: a TPACKET_V3 (blocks) or TPACKET_V2 (frames) mmap ring joined to a
// PACKET_FANOUT group.
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
// A fanout group has its own hook: without this flag its members see outgoing frames even
// with PACKET_IGNORE_OUTGOING set (Linux 6.5+; Debian 12's headers predate it).
#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000
#endif

#define MR_PACKET_VNET_HDR 1
#define MR_PACKET_PROMISC 2
// A link end's queue of whole super-frames: 8 MiB holds ~120 of 64 KiB (with their overhead).
#define COPY_QUEUE_BYTES (8 << 20)
// Bytes of a queued frame compared with the ring's head of it: past the Ethernet, IP and TCP
// headers' IP ID and sequence number, which tell two super-frames of one stream apart.
#define COPY_MATCH_BYTES 80
#define VNET_HDR_BYTES sizeof(struct virtio_net_hdr)

// Opens the socket with protocol 0 so it receives nothing until the ring is set and it is bound.
// Returns the fd, or -errno. fanout_id < 0 asks the kernel for a unique group id. version is 2 or
// 3: V3 hands user space whole blocks (full, or after retire_ms); V2 hands over every frame at once.
// flags, for a link's ends: MR_PACKET_VNET_HDR puts a virtio_net_hdr before each frame (a TSO/GSO
// super-frame's segmentation and a partial checksum's offsets, so it can be sent on as it came);
// MR_PACKET_PROMISC takes frames addressed to other hosts too (a link carries all of them).
int mr_packet_open(int version, int ifindex, unsigned block_size, unsigned block_nr, unsigned frame_size,
                   unsigned retire_ms, int fanout_id, int fanout_mode, int flags)
{
	if (version != 2 && version != 3)
		return -EINVAL;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;

	int v = version == 3 ? TPACKET_V3 : TPACKET_V2;
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0)
		goto fail;
	int on = 1;
	// Before the ring: the kernel refuses it afterwards (EBUSY).
	if ((flags & MR_PACKET_VNET_HDR) && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &on, sizeof(on)) < 0)
		goto fail;
	// A link's end on a V2 ring: a frame bigger than a ring frame (a GSO super-frame, up to 64 KiB)
	// is cut there, and with a copy threshold the kernel also queues it whole on the socket, where
	// mr_packet_take_copy() reads it. The queue needs room for a burst of them (root: FORCE).
	if ((flags & MR_PACKET_VNET_HDR) && version == 2) {
		if (setsockopt(fd, SOL_PACKET, PACKET_COPY_THRESH, &on, sizeof(on)) < 0)
			goto fail;
		int rcvbuf = COPY_QUEUE_BYTES;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0 &&
		    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
			goto fail;
	}
	// The relay must never see its own egress frames.
	int one = 1;
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		goto fail;

	struct tpacket_req3 req = {
		.tp_block_size = block_size,
		.tp_block_nr = block_nr,
		.tp_frame_size = frame_size,
		.tp_frame_nr = (block_size / frame_size) * block_nr,
		.tp_retire_blk_tov = retire_ms,
	};
	// tpacket_req is tpacket_req3's first four fields.
	socklen_t req_len = version == 3 ? sizeof(req) : sizeof(struct tpacket_req);
	if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, req_len) < 0)
		goto fail;

	// Between bind() and joining the fanout group the socket would get its own copy of every
	// frame besides the one the group hands a member: a frame then would be relayed twice. Drop
	// everything until it is in the group (a frame in that window is lost, never doubled).
	struct sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { .len = 1, .filter = &drop_all };
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		goto fail;

	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = ifindex,
	};
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto fail;
	// Held by the socket: the interface leaves promiscuous mode when the socket closes.
	struct packet_mreq mr = { .mr_ifindex = ifindex, .mr_type = PACKET_MR_PROMISC };
	if ((flags & MR_PACKET_PROMISC) && setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
		goto fail;

	int fflags = fanout_mode | PACKET_FANOUT_FLAG_IGNORE_OUTGOING;
	if (fanout_id < 0)
		fflags |= PACKET_FANOUT_FLAG_UNIQUEID;
	int arg = (fanout_id < 0 ? 0 : (fanout_id & 0xffff)) | (fflags << 16);
	if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) < 0) {
		// Older kernels reject the flag; ingress still drops outgoing frames by packet type.
		arg &= ~(PACKET_FANOUT_FLAG_IGNORE_OUTGOING << 16);
		if (errno != EINVAL || setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) < 0)
			goto fail;
	}
	int unused = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused)) < 0)
		goto fail;
	return fd;
fail:;
	int e = errno;
	close(fd);
	return -e;
}

// The fanout group id the socket joined (the kernel chooses it with UNIQUEID).
int mr_packet_fanout_id(int fd)
{
	int arg = 0;
	socklen_t len = sizeof(arg);
	if (getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, &len) < 0)
		return -errno;
	return arg & 0xffff;
}

void *mr_packet_map(int fd, unsigned long len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

int mr_unmap(void *p, unsigned long len)
{
	return munmap(p, len) < 0 ? -errno : 0;
}

// Kernel counters since the previous call (reading resets them): out = {packets, drops, freezes}.
int mr_packet_stats(int fd, unsigned *out)
{
	struct tpacket_stats_v3 st = { 0 }; // a V2 socket fills only the first two fields
	socklen_t len = sizeof(st);
	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
		return -errno;
	out[0] = st.tp_packets;
	out[1] = st.tp_drops;
	out[2] = st.tp_freeze_q_cnt;
	return 0;
}

// The whole of a frame the ring holds only the head of (TP_STATUS_COPY): the next frame queued on
// the socket, with its virtio_net_hdr, into buf (cap 0: taken and thrown away). The queue holds
// them in ring order, but an ingress that resumes a ring re-reads frames whose copies its
// predecessor took: a queued frame whose first bytes differ from `head` is a later frame's and is
// left there (-ESTALE). Returns the bytes the frame has (more than cap: it was cut), or -errno.
int mr_packet_take_copy(int fd, void *buf, unsigned cap, const unsigned char *head, unsigned head_len)
{
	unsigned char peek[VNET_HDR_BYTES + COPY_MATCH_BYTES];
	unsigned n = head_len < COPY_MATCH_BYTES ? head_len : COPY_MATCH_BYTES;
	ssize_t got = recv(fd, peek, VNET_HDR_BYTES + n, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
	if (got < 0)
		return -errno;
	if (got < (ssize_t)(VNET_HDR_BYTES + n) || memcmp(peek + VNET_HDR_BYTES, head, n) != 0)
		return -ESTALE;
	// A packet socket with a vnet header refuses a read shorter than the header (EINVAL): throw
	// one away by reading just its header.
	if (cap < VNET_HDR_BYTES) {
		buf = peek;
		cap = VNET_HDR_BYTES;
	}
	got = recv(fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC);
	return got < 0 ? -errno : (int)got;
}
