/*
 * Hosts seen by one worker: an exact set of source addresses up to a fixed capacity, and a
 * HyperLogLog sketch (4096 registers, about 1.6% standard error) that takes over once the set
 * is full (seeded then with every address the set holds). Both are allocated once at start-up; adding a host never allocates. One writer (the
 * worker thread); a reader on another thread may read the figures while it runs (relaxed loads:
 * a figure a message behind is fine).
 */
#ifndef NETCONS_PROBE_HOSTS_H
#define NETCONS_PROBE_HOSTS_H

#include <netinet/in.h>
#include <stdint.h>

#define PROBE_HLL_BITS 12
#define PROBE_HLL_REGISTERS (1u << PROBE_HLL_BITS)

struct probe_hosts {
	uint64_t *slots;      /* 2 words per address; an all-zero slot is empty */
	uint32_t capacity;    /* slots, a power of two */
	uint32_t size;        /* addresses stored (the all-zero address is counted apart) */
	uint8_t zero_seen;    /* the address :: was seen */
	uint8_t full;         /* the set reached its load limit: later hosts only reach the sketch */
	uint8_t hll[PROBE_HLL_REGISTERS];
};

/* capacity: addresses the exact set holds (rounded up to a power of two, load limit 3/4). */
int probe_hosts_init(struct probe_hosts *h, uint32_t capacity);
void probe_hosts_free(struct probe_hosts *h);
void probe_hosts_add(struct probe_hosts *h, const struct in6_addr *addr);
/* Hosts seen: exact (*exact = 1) while the set is not full, else the sketch's estimate. */
uint64_t probe_hosts_count(const struct probe_hosts *h, int *exact);

#endif
