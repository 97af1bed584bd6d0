/*
 * probe-host: a stand-in for netconsd that loads an output module and drives it the way netconsd
 * does, for the probe's tests (netconsd itself is not packaged anywhere the tests can install it
 * from). It dlopens the module, calls netconsd_output_init(workers), then calls
 * netconsd_output_handler from one thread per worker index at the same time, with both forms:
 * extended messages as a parsed-message structure and legacy lines as a received-datagram
 * structure. Both are built byte by byte at the offsets netconsd uses on x86-64 (not through the
 * module's own declarations, so a wrong declaration there fails the tests), with netconsd's
 * private fields after them filled with garbage. Then it pauses (so a test can watch the interval
 * file), calls netconsd_output_exit() and exits 0.
 *
 * Usage: probe-host MODULE.so key=value...
 *   workers=N     worker threads (handler index t = 0..N-1)          default 2
 *   extended=N    extended messages per worker                       default 1000
 *   legacy=N      legacy lines per worker (half with a [ secs.usecs] prefix)  default 100
 *   hosts=N       source addresses per worker (disjoint across workers)       default 4
 *   oos=N         extended messages flagged oos per worker (after each host's first)  default 0
 *   unstamped=N   extended messages per worker without a latency stamp         default 0
 *   near_us=D     intended send time D µs before the call, 9 stamped messages in 10  default 2000
 *   far_us=D      ... and D µs for every 10th stamped message                 default 200000
 *   queue_ms=Q    legacy lines' rcv_time: Q ms before the call (CLOCK_REALTIME)  default 30
 *   pause_ms=P    pause between the last message and exit                      default 0
 * Each worker's first message from each host is flagged seq_reset, as netconsd's are.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* netconsd's layouts, as raw offsets. */
enum {
	MSG_SEQ = 0,
	MSG_TS_USEC = 8,
	MSG_TEXT = 16,
	MSG_DICT = 24,
	MSG_TEXT_LEN = 32,
	MSG_DICT_LEN = 36,
	MSG_FACILITY = 40,
	MSG_LEVEL = 41,
	MSG_FLAGS = 42, /* bit 0 cont_start, 1 cont, 2 oos, 3 seq_reset */
	MSG_PUBLIC_END = 48,
	MSG_SIZE = 200, /* public head + netconsd's private fields (list node, times, release...) */
	BUF_NEXT = 0,
	BUF_RCV_TIME = 56,
	BUF_RCV_FLAGS = 64,
	BUF_RCV_BYTES = 68,
	BUF_DATA = 72,
	BUF_DATA_MAX = 1024,
};

typedef int (*init_fn)(int);
typedef void (*handler_fn)(int, struct in6_addr *, void *, void *);
typedef void (*exit_fn)(void);

static struct {
	long workers, extended, legacy, hosts, oos, unstamped, near_us, far_us, queue_ms, pause_ms;
} plan = { 2, 1000, 100, 4, 0, 0, 2000, 200000, 30, 0 };

static handler_fn handler;
static pthread_barrier_t start;

static uint64_t now_us(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void put(unsigned char *base, size_t offset, const void *value, size_t size)
{
	memcpy(base + offset, value, size);
}

static char *base36(uint64_t v, char *end)
{
	*--end = '\0';
	do {
		*--end = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
		v /= 36;
	} while (v);
	return end;
}

/* The stamp for the j-th stamped message of a worker: "ncb1:<host>:<intended> ". */
static void stamp(char *out, size_t size, long host, long j)
{
	long delay = j % 10 == 9 ? plan.far_us : plan.near_us;
	char h[16], t[24];
	snprintf(out, size, "ncb1:%s:%s ", base36((uint64_t)host, h + sizeof(h)),
		 base36(now_us(CLOCK_MONOTONIC) - (uint64_t)delay, t + sizeof(t)));
}

static void address(struct in6_addr *a, long worker, long host)
{
	memset(a, 0, sizeof(*a));
	a->s6_addr[0] = 0x20; /* 2001:db8::<worker>:<host> */
	a->s6_addr[1] = 0x01;
	a->s6_addr[2] = 0x0d;
	a->s6_addr[3] = 0xb8;
	a->s6_addr[10] = (unsigned char)(worker >> 8);
	a->s6_addr[11] = (unsigned char)worker;
	a->s6_addr[12] = (unsigned char)(host >> 24);
	a->s6_addr[13] = (unsigned char)(host >> 16);
	a->s6_addr[14] = (unsigned char)(host >> 8);
	a->s6_addr[15] = (unsigned char)host;
}

static void send_extended(int t, long i, long *stamped, unsigned char *msg, char *text)
{
	long host = i % plan.hosts;
	char s[64] = "";
	if (i < plan.extended - plan.unstamped)
		stamp(s, sizeof(s), host, (*stamped)++);
	int len = snprintf(text, 256, "%sextended message %ld from worker %d", s, i, t);
	memset(msg, 0xa5, MSG_SIZE); /* netconsd's private fields: never to be read */
	memset(msg, 0, MSG_PUBLIC_END);
	uint64_t seq = (uint64_t)i, ts = (uint64_t)i * 1337;
	char *dict = NULL;
	int dict_len = 0;
	put(msg, MSG_SEQ, &seq, 8);
	put(msg, MSG_TS_USEC, &ts, 8);
	put(msg, MSG_TEXT, &text, sizeof(text));
	put(msg, MSG_DICT, &dict, sizeof(dict));
	put(msg, MSG_TEXT_LEN, &len, 4);
	put(msg, MSG_DICT_LEN, &dict_len, 4);
	msg[MSG_FACILITY] = 0;
	msg[MSG_LEVEL] = 6;
	unsigned char flags = 0;
	if (i < plan.hosts)
		flags |= 0x8; /* seq_reset */
	else if (i - plan.hosts < plan.oos)
		flags |= 0x4; /* oos */
	msg[MSG_FLAGS] = flags;
	struct in6_addr src;
	address(&src, t, host);
	handler(t, &src, NULL, msg);
}

static void send_legacy(int t, long k, long *stamped, unsigned char *buf)
{
	long host = k % plan.hosts;
	char s[64];
	stamp(s, sizeof(s), host, (*stamped)++);
	char *data = (char *)buf + BUF_DATA;
	int len = snprintf(data, BUF_DATA_MAX, "%s%slegacy line %ld from worker %d",
			   k % 2 ? "[ 1234.567890] " : "", s, k, t);
	memset(buf, 0xa5, BUF_DATA); /* the queue link, iovec and source: not the module's */
	void *next = NULL;
	uint64_t rcv_ms = now_us(CLOCK_REALTIME) / 1000u - (uint64_t)plan.queue_ms;
	int flags = 0;
	put(buf, BUF_NEXT, &next, sizeof(next));
	put(buf, BUF_RCV_TIME, &rcv_ms, 8);
	put(buf, BUF_RCV_FLAGS, &flags, 4);
	put(buf, BUF_RCV_BYTES, &len, 4);
	struct in6_addr src;
	address(&src, t, host);
	handler(t, &src, buf, NULL);
}

static void *worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	unsigned char *msg = malloc(MSG_SIZE); /* malloc: aligned for any field type */
	unsigned char *buf = malloc(BUF_DATA + BUF_DATA_MAX);
	char *text = malloc(256);
	if (!msg || !buf || !text) {
		fprintf(stderr, "probe-host: out of memory\n");
		exit(1);
	}
	long stamped = 0;
	pthread_barrier_wait(&start);
	for (long e = 0, l = 0; e < plan.extended || l < plan.legacy;) {
		if (e < plan.extended)
			send_extended(t, e++, &stamped, msg, text);
		if (l < plan.legacy)
			send_legacy(t, l++, &stamped, buf);
	}
	free(msg);
	free(buf);
	free(text);
	return NULL;
}

static int set(const char *arg)
{
	static const struct {
		const char *name;
		long *value;
	} keys[] = {
		{ "workers", &plan.workers },     { "extended", &plan.extended },
		{ "legacy", &plan.legacy },       { "hosts", &plan.hosts },
		{ "oos", &plan.oos },             { "unstamped", &plan.unstamped },
		{ "near_us", &plan.near_us },     { "far_us", &plan.far_us },
		{ "queue_ms", &plan.queue_ms },   { "pause_ms", &plan.pause_ms },
	};
	const char *eq = strchr(arg, '=');
	if (!eq)
		return -1;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strlen(keys[i].name) == (size_t)(eq - arg) &&
		    !strncmp(arg, keys[i].name, (size_t)(eq - arg))) {
			char *end;
			long v = strtol(eq + 1, &end, 10);
			if (*end || v < 0 || v > 100000000)
				return -1;
			*keys[i].value = v;
			return 0;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: probe-host MODULE.so [key=value...]\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (set(argv[i])) {
			fprintf(stderr, "probe-host: bad argument %s\n", argv[i]);
			return 2;
		}
	}
	if (plan.workers < 1 || plan.workers > 256 || plan.hosts < 1 ||
	    plan.unstamped > plan.extended) {
		fprintf(stderr, "probe-host: workers 1..256, hosts >= 1, unstamped <= extended\n");
		return 2;
	}
	void *module = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!module) {
		fprintf(stderr, "probe-host: %s\n", dlerror());
		return 1;
	}
	init_fn init = (init_fn)dlsym(module, "netconsd_output_init");
	handler = (handler_fn)dlsym(module, "netconsd_output_handler");
	exit_fn fini = (exit_fn)dlsym(module, "netconsd_output_exit");
	if (!init || !handler || !fini) {
		fprintf(stderr, "probe-host: %s lacks an entry point\n", argv[1]);
		return 1;
	}
	if (init((int)plan.workers) != 0) {
		fprintf(stderr, "probe-host: netconsd_output_init failed\n");
		return 1;
	}
	pthread_t threads[256];
	pthread_barrier_init(&start, NULL, (unsigned)plan.workers);
	for (long t = 0; t < plan.workers; t++)
		pthread_create(&threads[t], NULL, worker, (void *)(intptr_t)t);
	for (long t = 0; t < plan.workers; t++)
		pthread_join(threads[t], NULL);
	if (plan.pause_ms > 0) {
		struct timespec pause = { plan.pause_ms / 1000, (plan.pause_ms % 1000) * 1000000L };
		nanosleep(&pause, NULL);
	}
	fini();
	dlclose(module);
	return 0;
}
