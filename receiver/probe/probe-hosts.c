/* Hosts seen by one worker: the exact bounded set and its HyperLogLog fallback (probe-hosts.h). */
#include "probe-hosts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

int probe_hosts_init(struct probe_hosts *h, uint32_t capacity)
{
	memset(h, 0, sizeof(*h));
	uint32_t slots = 16;
	while (slots < capacity && slots < (UINT32_C(1) << 30))
		slots <<= 1;
	h->slots = calloc((size_t)slots * 2, sizeof(uint64_t));
	if (!h->slots)
		return -1;
	h->capacity = slots;
	return 0;
}

void probe_hosts_free(struct probe_hosts *h)
{
	free(h->slots);
	h->slots = NULL;
}

static inline void relaxed_store32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline uint64_t address_hash(uint64_t a, uint64_t b)
{
	return mix64(a ^ mix64(b + UINT64_C(0x9e3779b97f4a7c15)));
}

/* The sketch: the top bits pick a register, which keeps the largest rank of the rest. */
static inline void sketch_add(struct probe_hosts *h, uint64_t hash)
{
	uint32_t reg = (uint32_t)(hash >> (64 - PROBE_HLL_BITS));
	uint64_t rest = (hash << PROBE_HLL_BITS) | (UINT64_C(1) << (PROBE_HLL_BITS - 1));
	uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);
	if (rank > h->hll[reg])
		__atomic_store_n(&h->hll[reg], rank, __ATOMIC_RELAXED);
}

/* Once, when the set fills: everything it holds goes into the sketch, which takes over. */
static void hand_over_to_sketch(struct probe_hosts *h)
{
	for (uint32_t i = 0; i < h->capacity; i++) {
		const uint64_t *slot = h->slots + (size_t)i * 2;
		if (slot[0] || slot[1])
			sketch_add(h, address_hash(slot[0], slot[1]));
	}
	if (h->zero_seen)
		sketch_add(h, address_hash(0, 0));
	__atomic_store_n(&h->full, 1, __ATOMIC_RELEASE); /* the seeded registers before it */
}

void probe_hosts_add(struct probe_hosts *h, const struct in6_addr *addr)
{
	uint64_t a, b;
	memcpy(&a, addr->s6_addr, 8);
	memcpy(&b, addr->s6_addr + 8, 8);
	uint64_t hash = address_hash(a, b);
	if (h->full) {
		sketch_add(h, hash);
		return;
	}
	if (a == 0 && b == 0) {
		if (!h->zero_seen)
			__atomic_store_n(&h->zero_seen, 1, __ATOMIC_RELAXED);
		return;
	}
	uint32_t mask = h->capacity - 1;
	for (uint32_t i = (uint32_t)hash & mask;; i = (i + 1) & mask) {
		uint64_t *slot = h->slots + (size_t)i * 2;
		if (slot[0] == a && slot[1] == b)
			return;
		if (slot[0] == 0 && slot[1] == 0) {
			if (h->size + 1 > h->capacity - h->capacity / 4) {
				hand_over_to_sketch(h);
				sketch_add(h, hash);
				return;
			}
			slot[0] = a;
			slot[1] = b;
			relaxed_store32(&h->size, h->size + 1);
			return;
		}
	}
}

uint64_t probe_hosts_count(const struct probe_hosts *h, int *exact)
{
	uint32_t size = __atomic_load_n(&h->size, __ATOMIC_RELAXED);
	uint8_t zero = __atomic_load_n(&h->zero_seen, __ATOMIC_RELAXED);
	if (!__atomic_load_n(&h->full, __ATOMIC_ACQUIRE)) {
		*exact = 1;
		return (uint64_t)size + zero;
	}
	*exact = 0;
	const double m = PROBE_HLL_REGISTERS;
	double sum = 0;
	unsigned zeros = 0;
	for (unsigned i = 0; i < PROBE_HLL_REGISTERS; i++) {
		uint8_t r = __atomic_load_n(&h->hll[i], __ATOMIC_RELAXED);
		sum += ldexp(1.0, -(int)r);
		if (r == 0)
			zeros++;
	}
	double estimate = (0.7213 / (1.0 + 1.079 / m)) * m * m / sum;
	if (estimate <= 2.5 * m && zeros > 0)
		estimate = m * log(m / zeros); /* linear counting for the small range */
	/* Never below what the exact set already holds. */
	if (estimate < (double)size + zero)
		estimate = (double)size + zero;
	return (uint64_t)(estimate + 0.5);
}
