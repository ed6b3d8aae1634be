/* Wall and CPU clocks for the benchmarks.  CPU time (user + system of this
 * process) is less sensitive than wall time to other work on a shared
 * machine; the programs print both. */
#ifndef SL_BENCH_TIME_H
#define SL_BENCH_TIME_H

#include <sys/resource.h>
#include <time.h>

static inline double bench_cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
