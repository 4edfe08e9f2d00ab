// Shared memory, futex wake-ups, poll, copying into pool slots, and privilege drop (scheduling: sched.c).
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "csum.h"
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

int mr_shm_create(const char *name, unsigned long len)
{
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0) {
		int e = errno;
		close(fd);
		shm_unlink(name);
		return -e;
	}
	return fd;
}

int mr_shm_open(const char *name, int writable)
{
	int fd = shm_open(name, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

int mr_shm_unlink(const char *name)
{
	return shm_unlink(name) < 0 ? -errno : 0;
}

void *mr_shm_map(int fd, unsigned long len, int writable)
{
	void *p = mmap(NULL, len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

// Shared (not PRIVATE) futex: the word lives in a segment mapped by other processes.
int mr_futex_wait(uint32_t *addr, uint32_t expected, long timeout_us)
{
	struct timespec ts = { .tv_sec = timeout_us / 1000000, .tv_nsec = (timeout_us % 1000000) * 1000 };
	long rc = syscall(SYS_futex, addr, FUTEX_WAIT, expected, timeout_us >= 0 ? &ts : NULL, NULL, 0);
	return rc < 0 ? -errno : 0;
}

int mr_futex_wake(uint32_t *addr, int n)
{
	long rc = syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
	return rc < 0 ? -errno : (int)rc;
}

// Waits until one of fds is readable; revents[i] gets each fd's revents. Returns poll()'s count.
int mr_poll(const int *fds, int *revents, unsigned n, int timeout_ms)
{
	struct pollfd p[64];
	if (n > 64)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	int rc = poll(p, n, timeout_ms);
	if (rc < 0)
		return -errno;
	for (unsigned i = 0; i < n; i++)
		revents[i] = p[i].revents;
	return rc;
}

// poll() with a timeout in µs (ppoll; < 0: none): an ingress that holds off for a few tens of µs
// to let frames gather (services/ingress/moderation.ts) cannot do it in poll()'s milliseconds.
int mr_poll_us(const int *fds, int *revents, unsigned n, long timeout_us)
{
	struct pollfd p[64];
	if (n > 64)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	struct timespec ts = { .tv_sec = timeout_us / 1000000, .tv_nsec = (timeout_us % 1000000) * 1000 };
	int rc = ppoll(p, n, timeout_us >= 0 ? &ts : NULL, NULL);
	if (rc < 0)
		return -errno;
	for (unsigned i = 0; i < n; i++)
		revents[i] = p[i].revents;
	return rc;
}

// The one copy user space makes of a packet: from the receive ring into its pool slot.
void mr_copy(void *dst, const void *src, unsigned len)
{
	memcpy(dst, src, len);
}

// The same copy, returning the bytes' sum (csum.h): what a UDP checksum over the payload needs.
// The bytes are in cache from the copy, so the sum costs little more than the copy.
unsigned mr_copy_sum(void *dst, const void *src, unsigned len)
{
	memcpy(dst, src, len);
	return mr_sum(src, len);
}

// For a worker that was started as root: give up groups, ids and every capability for good.
int mr_drop_privileges(unsigned uid, unsigned gid)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (getuid() != 0 && geteuid() != 0)
		return 0;
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	return 0;
}

long mr_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

// CLOCK_REALTIME as {seconds, nanoseconds}: the clock the kernel stamps AF_PACKET frames with
// (tpacket tp_sec/tp_nsec). Two words, because nanoseconds since 1970 do not fit a double exactly.
void mr_realtime(uint32_t *out)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	out[0] = (uint32_t)ts.tv_sec;
	out[1] = (uint32_t)ts.tv_nsec;
}

// The thread's timer slack (ns): 50 µs by default, which would stretch a 20 µs hold to 70.
int mr_timer_slack(unsigned long ns)
{
	return prctl(PR_SET_TIMERSLACK, ns, 0, 0, 0) < 0 ? -errno : 0;
}

// Not dumpable: no other process of the same user may ptrace this one or read its memory,
// environment or fds through /proc (a compromised worker must not take over the API, nor the
// API a worker). Root still can.
int mr_set_dumpable(int on)
{
	return prctl(PR_SET_DUMPABLE, on ? 1 : 0, 0, 0, 0) < 0 ? -errno : 0;
}

// Memory that never moves, for what C reads later at an address TypeScript gave it (egress's raw
// header templates): a garbage collector may move a JavaScript buffer, never this.
void *mr_alloc(unsigned long len)
{
	return calloc(1, len);
}

void mr_free(void *p)
{
	free(p);
}
