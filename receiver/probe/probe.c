/*
 * netcons-probe: a netconsd output module that measures, on each worker thread, what netconsd
 * delivers to its output modules: messages (extended / legacy), flags, hosts, end-to-end latency
 * from the blaster's stamps and the listener-to-output delay, and writes the figures as JSON to
 * the file named by NETCONS_PROBE_OUT (every NETCONS_PROBE_INTERVAL_MS while running, and at exit),
 * atomically (a temporary file renamed over it). It never stops or crashes netconsd: without a
 * usable file it says so once on stderr and keeps counting.
 *
 * Per message: no lock, no allocation, one or two clock reads (two more with
 * NETCONS_PROBE_SELF_TIME=1, which records the handler's own time per call in ns, its total as
 * handlerNsTotal and its distribution as handlerNs: the probe's cost inside a real netconsd).
 * Each worker's figures are written only by its own thread (relaxed atomic stores of plain counters); the file writer thread reads
 * them with relaxed loads, so an interval's file may be a message or two out of step between a
 * counter and its histogram. The file written at exit is exact: the workers have stopped.
 *
 * What is measured, per form (see netconsd-abi.h):
 *  - end-to-end (both forms): CLOCK_MONOTONIC µs at the handler minus the stamp's intended send
 *    time. Only meaningful when blaster and netconsd share one machine (CLOCK_MONOTONIC counts
 *    from each machine's boot); across machines the values are garbage and negative ones are
 *    counted as endToEndNegative.
 *  - listener-to-output delay (buf form only): CLOCK_REALTIME at the handler minus rcv_time.
 *    rcv_time is whole milliseconds taken once per recvmmsg batch, when the call returned, so
 *    each value is up to 1 ms high (rcv_time is truncated) and leaves out the datagram's wait in
 *    the socket buffer. An extended message (msg form) carries no receive time in its
 *    public fields, so it has no such delay; its end-to-end latency covers the same wait.
 */
#define _GNU_SOURCE
#include "netconsd-abi.h"
#include "probe-histogram.h"
#include "probe-hosts.h"
#include "probe-stamp.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define DEFAULT_INTERVAL_MS 1000
#define DEFAULT_MAX_HOSTS 16384

struct probe_latency {
	uint64_t *counts;  /* PROBE_HIST_BUCKETS */
	uint64_t negative; /* end before start (clock mismatch): recorded as 0 */
	uint64_t clamped;  /* above PROBE_HIST_MAX_VALUE: recorded as that */
};

struct probe_worker {
	uint64_t extended;   /* msg form */
	uint64_t legacy;     /* buf form */
	uint64_t oos;
	uint64_t seq_reset;
	uint64_t stamped;    /* messages with a stamp (recorded in end_to_end) */
	uint64_t handler_ns; /* time spent in this handler (NETCONS_PROBE_SELF_TIME=1 only) */
	struct probe_latency handler; /* ... and per call, in ns (its counts only when self-timed) */
	struct probe_latency end_to_end;
	struct probe_latency queue; /* buf form only */
	struct probe_hosts hosts;
} __attribute__((aligned(64)));

static struct {
	int nr_workers;
	int self_time;
	struct probe_worker *workers;
	char *out;
	char *tmp;
	long interval_ms;
	int write_failed_reported;
	pthread_t writer;
	int writer_started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stop;
} probe = { .lock = PTHREAD_MUTEX_INITIALIZER };

static inline uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void bump(uint64_t *p)
{
	__atomic_store_n(p, load(p) + 1, __ATOMIC_RELAXED);
}

static inline uint64_t clock_us(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void record(struct probe_latency *l, uint64_t now, uint64_t start)
{
	uint64_t v = 0;
	if (now >= start)
		v = now - start;
	else
		bump(&l->negative);
	if (v > PROBE_HIST_MAX_VALUE) {
		v = PROBE_HIST_MAX_VALUE;
		bump(&l->clamped);
	}
	bump(&l->counts[probe_hist_index(v)]);
}

/* One message on worker w: the counters, the host, the latencies. */
static inline void measure(struct probe_worker *w, const struct in6_addr *src,
			   const struct msg_buf *buf, const struct ncrx_msg *msg)
{
	const char *text;
	size_t len, window;
	if (msg) {
		bump(&w->extended);
		if (msg->oos)
			bump(&w->oos);
		if (msg->seq_reset)
			bump(&w->seq_reset);
		text = msg->text;
		len = msg->text && msg->text_len > 0 ? (size_t)msg->text_len : 0;
		window = 0;
	} else if (buf) {
		bump(&w->legacy);
		record(&w->queue, clock_us(CLOCK_REALTIME), buf->rcv_time * 1000u);
		text = buf->buf;
		len = buf->rcv_bytes > 0 ? (size_t)buf->rcv_bytes : 0;
		window = PROBE_STAMP_WINDOW;
	} else {
		return;
	}
	if (src)
		probe_hosts_add(&w->hosts, src);
	uint64_t intended;
	if (len > 0 && probe_find_stamp(text, len, window, &intended)) {
		bump(&w->stamped);
		record(&w->end_to_end, clock_us(CLOCK_MONOTONIC), intended);
	}
}

EXPORT void netconsd_output_handler(int t, struct in6_addr *src, struct msg_buf *buf,
				    struct ncrx_msg *msg)
{
	if (!probe.workers || t < 0 || t >= probe.nr_workers)
		return;
	struct probe_worker *w = &probe.workers[t];
	if (!probe.self_time) {
		measure(w, src, buf, msg);
		return;
	}
	/* The probe's own cost, as netconsd's worker pays it (plus one clock read). */
	uint64_t start = clock_ns();
	measure(w, src, buf, msg);
	uint64_t ns = clock_ns() - start;
	__atomic_store_n(&w->handler_ns, load(&w->handler_ns) + ns, __ATOMIC_RELAXED);
	record(&w->handler, ns, 0);
}

static void report_write_failure(const char *what, int err)
{
	if (probe.write_failed_reported)
		return;
	probe.write_failed_reported = 1;
	fprintf(stderr,
		"netcons-probe: cannot write %s (%s: %s); the probe keeps counting but saves "
		"nothing, netconsd goes on\n",
		probe.out, what, strerror(err));
}

/* Non-empty buckets as a flat [index, count, index, count, ...] list. */
static void write_histogram(FILE *f, const char *name, const struct probe_latency *l)
{
	fprintf(f, "\"%s\":{\"negative\":%" PRIu64 ",\"clamped\":%" PRIu64 ",\"buckets\":[", name,
		load(&l->negative), load(&l->clamped));
	int first = 1;
	for (uint32_t i = 0; i < PROBE_HIST_BUCKETS; i++) {
		uint64_t c = load(&l->counts[i]);
		if (!c)
			continue;
		fprintf(f, "%s%" PRIu32 ",%" PRIu64, first ? "" : ",", i, c);
		first = 0;
	}
	fputs("]}", f);
}

static void write_worker(FILE *f, int index, struct probe_worker *w)
{
	int exact;
	uint64_t hosts = probe_hosts_count(&w->hosts, &exact);
	fprintf(f,
		"{\"index\":%d,\"extended\":%" PRIu64 ",\"legacy\":%" PRIu64 ",\"oos\":%" PRIu64
		",\"seqReset\":%" PRIu64 ",\"stamped\":%" PRIu64 ",\"handlerNsTotal\":%" PRIu64
		",\"hosts\":%" PRIu64 ",\"hostsExact\":%s,",
		index, load(&w->extended), load(&w->legacy), load(&w->oos), load(&w->seq_reset),
		load(&w->stamped), load(&w->handler_ns), hosts, exact ? "true" : "false");
	write_histogram(f, "endToEndUs", &w->end_to_end);
	fputc(',', f);
	write_histogram(f, "queueUs", &w->queue);
	fputc(',', f);
	if (w->handler.counts)
		write_histogram(f, "handlerNs", &w->handler);
	else
		fputs("\"handlerNs\":null", f);
	fputc('}', f);
}

/* Writes the figures to the temporary file and renames it over NETCONS_PROBE_OUT. */
static void write_figures(int final)
{
	if (!probe.out)
		return;
	FILE *f = fopen(probe.tmp, "w");
	if (!f) {
		report_write_failure("open", errno);
		return;
	}
	fprintf(f,
		"{\"format\":\"netcons-probe/1\",\"final\":%s,\"pid\":%ld,\"intervalMs\":%ld,"
		"\"selfTimed\":%s,"
		"\"writtenAtRealMs\":%" PRIu64 ",\"histogram\":{\"unit\":\"us\","
		"\"layout\":\"hdr-log-linear\",\"halfCountMagnitude\":%d,\"maxValue\":%" PRIu64 "},"
		"\"workers\":[",
		final ? "true" : "false", (long)getpid(), probe.interval_ms,
		probe.self_time ? "true" : "false",
		clock_us(CLOCK_REALTIME) / 1000u, PROBE_HIST_HALF_MAGNITUDE,
		(uint64_t)PROBE_HIST_MAX_VALUE);
	for (int i = 0; i < probe.nr_workers; i++) {
		if (i)
			fputc(',', f);
		write_worker(f, i, &probe.workers[i]);
	}
	fputs("]}\n", f);
	int failed = fflush(f) != 0 || ferror(f);
	int err = errno;
	if (fclose(f) != 0 && !failed) {
		failed = 1;
		err = errno;
	}
	if (failed) {
		report_write_failure("write", err);
		unlink(probe.tmp);
		return;
	}
	if (rename(probe.tmp, probe.out) != 0) {
		report_write_failure("rename", errno);
		unlink(probe.tmp);
	}
}

static void *writer_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&probe.lock);
	while (!probe.stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += probe.interval_ms / 1000;
		until.tv_nsec += (probe.interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!probe.stop &&
		       pthread_cond_timedwait(&probe.wake, &probe.lock, &until) != ETIMEDOUT)
			;
		if (probe.stop)
			break;
		pthread_mutex_unlock(&probe.lock);
		write_figures(0);
		pthread_mutex_lock(&probe.lock);
	}
	pthread_mutex_unlock(&probe.lock);
	return NULL;
}

static long env_long(const char *name, long fallback, long min, long max)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return fallback;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || n < min || n > max) {
		fprintf(stderr, "netcons-probe: ignoring %s=%s (expected %ld..%ld); using %ld\n", name,
			v, min, max, fallback);
		return fallback;
	}
	return n;
}

static void free_workers(void)
{
	if (!probe.workers)
		return;
	for (int i = 0; i < probe.nr_workers; i++) {
		free(probe.workers[i].end_to_end.counts);
		free(probe.workers[i].queue.counts);
		free(probe.workers[i].handler.counts);
		probe_hosts_free(&probe.workers[i].hosts);
	}
	free(probe.workers);
	probe.workers = NULL;
}

/* Starts the periodic writer with every signal blocked: netconsd waits for SIGTERM/SIGINT with
 * sigwait in its main thread, which only works while no other thread can take them. */
static void start_writer(void)
{
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&probe.wake, &attr);
	pthread_condattr_destroy(&attr);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int err = pthread_create(&probe.writer, NULL, writer_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		fprintf(stderr, "netcons-probe: no interval writer (%s); figures are written at exit\n",
			strerror(err));
	else
		probe.writer_started = 1;
}

EXPORT int netconsd_output_init(int nr_workers)
{
	if (nr_workers <= 0) {
		fprintf(stderr, "netcons-probe: %d workers; nothing to measure\n", nr_workers);
		return 0;
	}
	long max_hosts = env_long("NETCONS_PROBE_MAX_HOSTS", DEFAULT_MAX_HOSTS, 16, 1L << 24);
	probe.interval_ms = env_long("NETCONS_PROBE_INTERVAL_MS", DEFAULT_INTERVAL_MS, 0, 86400000L);
	probe.self_time = (int)env_long("NETCONS_PROBE_SELF_TIME", 0, 0, 1);
	probe.workers = aligned_alloc(64, sizeof(struct probe_worker) * (size_t)nr_workers);
	int ok = probe.workers != NULL;
	if (ok) {
		memset(probe.workers, 0, sizeof(struct probe_worker) * (size_t)nr_workers);
		probe.nr_workers = nr_workers;
		for (int i = 0; i < nr_workers && ok; i++) {
			struct probe_worker *w = &probe.workers[i];
			w->end_to_end.counts = calloc(PROBE_HIST_BUCKETS, sizeof(uint64_t));
			w->queue.counts = calloc(PROBE_HIST_BUCKETS, sizeof(uint64_t));
			if (probe.self_time)
				w->handler.counts = calloc(PROBE_HIST_BUCKETS, sizeof(uint64_t));
			ok = w->end_to_end.counts && w->queue.counts &&
			     (!probe.self_time || w->handler.counts) &&
			     probe_hosts_init(&w->hosts, (uint32_t)max_hosts) == 0;
		}
	}
	if (!ok) {
		fprintf(stderr, "netcons-probe: out of memory at start-up; the probe measures nothing, "
				"netconsd goes on\n");
		free_workers();
		probe.nr_workers = 0;
		return 0;
	}
	const char *out = getenv("NETCONS_PROBE_OUT");
	if (!out || !*out) {
		fprintf(stderr, "netcons-probe: NETCONS_PROBE_OUT is not set; the probe counts but "
				"saves nothing\n");
		return 0;
	}
	probe.out = strdup(out);
	if (probe.out && asprintf(&probe.tmp, "%s.tmp-%ld", out, (long)getpid()) < 0)
		probe.tmp = NULL;
	if (!probe.out || !probe.tmp) {
		free(probe.out);
		probe.out = NULL;
		fprintf(stderr, "netcons-probe: out of memory; the probe saves nothing\n");
		return 0;
	}
	fprintf(stderr, "netcons-probe: %d workers, figures to %s every %ld ms and at exit\n",
		nr_workers, probe.out, probe.interval_ms);
	write_figures(0); /* an unusable path shows now, not at the first interval */
	if (probe.interval_ms > 0)
		start_writer();
	return 0;
}

EXPORT void netconsd_output_exit(void)
{
	if (probe.writer_started) {
		pthread_mutex_lock(&probe.lock);
		probe.stop = 1;
		pthread_cond_signal(&probe.wake);
		pthread_mutex_unlock(&probe.lock);
		pthread_join(probe.writer, NULL);
		probe.writer_started = 0;
	}
	write_figures(1);
	free_workers();
	free(probe.out);
	free(probe.tmp);
	probe.out = probe.tmp = NULL;
}
