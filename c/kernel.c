// The kernel's structs and numbers TypeScript reads in place (AF_PACKET ring headers, status
// bits, packet types), taken from the headers by offsetof and handed over as one table, so no
// offset is written down twice. c/kernel.ts names the entries; the order here is the contract.
#include <stddef.h>
#include <linux/if_packet.h>
#include <limits.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>

#ifndef TP_STATUS_CSUM_VALID
#define TP_STATUS_CSUM_VALID (1 << 7)
#endif

// Where sockaddr_ll follows a ring frame's header: TPACKET_ALIGN(sizeof(hdr)), as the kernel lays it.
#define SLL_AFTER(hdr) TPACKET_ALIGN(sizeof(struct hdr))

static const int layout[] = {
	// struct tpacket_block_desc + tpacket_hdr_v1 (a TPACKET_V3 block)
	offsetof(struct tpacket_block_desc, hdr) + offsetof(struct tpacket_hdr_v1, block_status),
	offsetof(struct tpacket_block_desc, hdr) + offsetof(struct tpacket_hdr_v1, num_pkts),
	offsetof(struct tpacket_block_desc, hdr) + offsetof(struct tpacket_hdr_v1, offset_to_first_pkt),
	offsetof(struct tpacket_block_desc, hdr) + offsetof(struct tpacket_hdr_v1, seq_num),
	// struct tpacket3_hdr (a frame in a V3 block)
	offsetof(struct tpacket3_hdr, tp_next_offset),
	offsetof(struct tpacket3_hdr, tp_snaplen),
	offsetof(struct tpacket3_hdr, tp_len),
	offsetof(struct tpacket3_hdr, tp_status),
	offsetof(struct tpacket3_hdr, tp_mac),
	SLL_AFTER(tpacket3_hdr) + offsetof(struct sockaddr_ll, sll_pkttype),
	// a V3 frame's VLAN tag, which the kernel took off the frame (TP_STATUS_VLAN_VALID)
	offsetof(struct tpacket3_hdr, hv1) + offsetof(struct tpacket_hdr_variant1, tp_vlan_tci),
	offsetof(struct tpacket3_hdr, hv1) + offsetof(struct tpacket_hdr_variant1, tp_vlan_tpid),
	// struct tpacket2_hdr (a V2 frame)
	offsetof(struct tpacket2_hdr, tp_status),
	offsetof(struct tpacket2_hdr, tp_len),
	offsetof(struct tpacket2_hdr, tp_snaplen),
	offsetof(struct tpacket2_hdr, tp_mac),
	SLL_AFTER(tpacket2_hdr) + offsetof(struct sockaddr_ll, sll_pkttype),
	offsetof(struct tpacket2_hdr, tp_vlan_tci),
	offsetof(struct tpacket2_hdr, tp_vlan_tpid),
	// status bits and packet types
	TP_STATUS_KERNEL,
	TP_STATUS_USER,
	TP_STATUS_CSUMNOTREADY,
	TP_STATUS_VLAN_VALID,
	TP_STATUS_CSUM_VALID,
	TP_STATUS_VLAN_TPID_VALID,
	PACKET_HOST,
	PACKET_BROADCAST,
	PACKET_MULTICAST,
	PACKET_OTHERHOST,
	PACKET_OUTGOING,
	// limits
	IOV_MAX,
	// the kernel's receive time of a frame (CLOCK_REALTIME), V2 and V3
	offsetof(struct tpacket2_hdr, tp_sec),
	offsetof(struct tpacket2_hdr, tp_nsec),
	offsetof(struct tpacket3_hdr, tp_sec),
	offsetof(struct tpacket3_hdr, tp_nsec),
	// a V2 frame cut to the ring's frame size whose whole the kernel queued on the socket (PACKET_COPY_THRESH)
	TP_STATUS_COPY,
	// what a link end's socket (PACKET_VNET_HDR) puts before each frame
	sizeof(struct virtio_net_hdr),
};

// Copies up to n entries into out; returns how many the table has.
int mr_kernel_layout(int *out, unsigned n)
{
	unsigned count = sizeof(layout) / sizeof(layout[0]);
	for (unsigned i = 0; i < n && i < count; i++)
		out[i] = layout[i];
	return (int)count;
}
