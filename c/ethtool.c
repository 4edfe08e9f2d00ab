// Offloads of an interface, through the legacy ethtool ioctls (veth and real NICs take them).
// GRO hands AF_PACKET coalesced super-frames (seed D31); a sender's checksum offload hands the
// receiver frames whose checksum is not computed yet. Inputs turn GRO off; the benches turn a
// sender's checksum offload off to make every frame carry a real checksum.
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

// The features by the names `ethtool -K` uses; the only list of them (c/ethtool.ts types it).
static const struct {
	const char *name;
	unsigned cmd;
} features[] = {
	{ "gro", ETHTOOL_SGRO },
	{ "gso", ETHTOOL_SGSO },
	{ "tso", ETHTOOL_STSO },
	{ "tx", ETHTOOL_STXCSUM },
	{ "rx", ETHTOOL_SRXCSUM },
	{ "sg", ETHTOOL_SSG },
};

// Turns one offload on or off (needs CAP_NET_ADMIN). -EINVAL for a name not in the table.
int mr_ethtool_set(const char *ifname, const char *feature, int on)
{
	unsigned cmd = 0;
	for (unsigned i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		if (strcmp(features[i].name, feature) == 0)
			cmd = features[i].cmd;
	if (!cmd)
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct ethtool_value ev = { .cmd = cmd, .data = on ? 1 : 0 };
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	ifr.ifr_data = (char *)&ev;
	int rc = ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
	close(fd);
	return rc;
}
