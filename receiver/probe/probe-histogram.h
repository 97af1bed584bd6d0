/*
 * The probe's latency histograms: log-linear buckets laid out exactly as HdrHistogram lays out
 * its counts for a lowest discernible value of 1 and 3 significant digits (2048 sub-buckets,
 * the lower half shared): values 0..2047 each have their own bucket, and every power of two
 * above is split into 1024 equal buckets (at most 0.1% wide). Because the layout is the same,
 * recording a bucket's value with its count into such an HdrHistogram (what
 * receiver/probe/probe-file.ts does) lands in the same bucket: nothing is lost when the probe's
 * histograms are merged with the receiver's.
 *
 * Values (µs for latencies, ns for the self-timing) are clamped to PROBE_HIST_MAX_VALUE
 * (2^36 - 1: 19 hours in µs, 68 s in ns); the writer counts the clamped ones separately.
 */
#ifndef NETCONS_PROBE_HISTOGRAM_H
#define NETCONS_PROBE_HISTOGRAM_H

#include <stdint.h>

#define PROBE_HIST_HALF_MAGNITUDE 10 /* 1024 buckets per power of two */
#define PROBE_HIST_MAX_VALUE ((UINT64_C(1) << 36) - 1)
/* Index of PROBE_HIST_MAX_VALUE plus one: (36 - 10) powers of two above 2048, 1024 buckets each. */
#define PROBE_HIST_BUCKETS (((36 - PROBE_HIST_HALF_MAGNITUDE) + 1) << PROBE_HIST_HALF_MAGNITUDE)

/* The bucket of value v (already clamped to PROBE_HIST_MAX_VALUE). */
static inline uint32_t probe_hist_index(uint64_t v)
{
	if (v < (UINT64_C(2) << PROBE_HIST_HALF_MAGNITUDE))
		return (uint32_t)v;
	int shift = 63 - __builtin_clzll(v) - PROBE_HIST_HALF_MAGNITUDE;
	return (uint32_t)(((shift + 1) << PROBE_HIST_HALF_MAGNITUDE) +
			  (v >> shift) - (UINT64_C(1) << PROBE_HIST_HALF_MAGNITUDE));
}

#endif
