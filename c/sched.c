// Scheduling of the calling thread (a worker's JavaScript thread): its policy, its CPUs, its CPU
// time; and the supervisor's making a worker real-time. Why a worker
// changes how it is scheduled as its load changes: services/schedule.ts.
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>

// Gives the CPU to another runnable thread, if there is one: a busy-polling worker that shares
// its CPU with the other worker of its pair lets it run.
int mr_yield(void)
{
	return sched_yield() < 0 ? -errno : 0;
}

// struct sched_attr (linux/sched/types.h; glibc 2.36 has no wrapper for sched_setattr).
struct mr_sched_attr {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
	uint32_t sched_util_min, sched_util_max;
};

// The calling thread's time slice (ns) as a normal (EEVDF) task, its niceness kept: a shorter
// slice gives an earlier deadline, so a worker that wakes gets the CPU from a busy task at once
// instead of after that task's slice (Linux 6.12+; the kernel clamps it to 0.1–100 ms).
int mr_sched_slice(unsigned long ns)
{
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, 0);
	if (nice == -1 && errno != 0)
		return -errno;
	struct mr_sched_attr a = { .size = sizeof(a), .sched_policy = SCHED_OTHER, .sched_nice = nice, .sched_runtime = ns };
	return syscall(SYS_sched_setattr, 0, &a, 0) < 0 ? -errno : 0;
}

// Pins the calling thread (the worker's JavaScript thread) to one CPU.
int mr_pin_cpu(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}


// The CPUs the thread may run on when it started (its cpuset, taskset's choice): what
// mr_unpin() gives back after mr_pin_cpu() narrowed it.
static cpu_set_t started_on;
static int saved;

int mr_save_affinity(void)
{
	if (sched_getaffinity(0, sizeof(started_on), &started_on) < 0)
		return -errno;
	saved = 1;
	return 0;
}

int mr_unpin(void)
{
	if (!saved)
		return -EINVAL;
	return sched_setaffinity(0, sizeof(started_on), &started_on) < 0 ? -errno : 0;
}

// The CPU the thread runs on now (glibc reads it from rseq: no system call).
int mr_current_cpu(void)
{
	int c = sched_getcpu();
	return c < 0 ? -errno : c;
}

// Makes thread pid (0: the caller) SCHED_FIFO at priority prio: woken, it preempts any ordinary
// task on its CPU at once. The supervisor does it for a quiet worker (CAP_SYS_NICE): a worker has
// no privilege and no RLIMIT_RTPRIO allowance, so it can step down (mr_sched_slice) but not up.
int mr_sched_fifo(int pid, int prio)
{
	struct sched_param p = { .sched_priority = prio };
	return sched_setscheduler(pid, SCHED_FIFO, &p) < 0 ? -errno : 0;
}

// Thread pid back to SCHED_OTHER (the supervisor's guard against a real-time worker that does
// not step down by itself).
int mr_sched_other(int pid)
{
	struct sched_param p = { .sched_priority = 0 };
	return sched_setscheduler(pid, SCHED_OTHER, &p) < 0 ? -errno : 0;
}

// 1 if the calling thread is real-time (SCHED_FIFO or SCHED_RR), 0 if not.
int mr_sched_is_realtime(void)
{
	int p = sched_getscheduler(0);
	if (p < 0)
		return -errno;
	return p == SCHED_FIFO || p == SCHED_RR;
}

// CPU time the thread has used (ns): a worker's load over a window, counting only the CPU it
// took (not the time it waited in a system call for the kernel).
long mr_thread_cpu_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return -errno;
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}
