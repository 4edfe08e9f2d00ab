// The Internet checksum's sum (RFC 1071), shared by ingress's copy-and-sum (sys.c) and raw
// egress (uring.c): the bytes' ones'-complement sum as big-endian 16-bit words, folded to 16 bits.
#pragma once
#include <stdint.h>
#include <string.h>

static inline uint32_t mr_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

// Summed as little-endian words, 8 bytes at a time, then swapped: the ones'-complement sum is the
// same up to byte order.
static inline uint32_t mr_sum(const void *buf, unsigned len)
{
	const unsigned char *p = buf;
	uint64_t sum = 0;
	unsigned i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		sum += (w & 0xffffffffu) + (w >> 32);
	}
	for (; i + 2 <= len; i += 2) {
		uint16_t h;
		memcpy(&h, p + i, 2);
		sum += h;
	}
	if (i < len)
		sum += p[i]; // the odd last byte is the high half of a big-endian word: low half here
	uint32_t s = mr_fold(sum);
	return ((s & 0xff) << 8) | (s >> 8);
}
