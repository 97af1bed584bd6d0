/*
 * Reads the latency stamp the blaster puts in each message's text: `ncb1:<host>:<intendedUs> `,
 * host index and intended send time (µs of CLOCK_MONOTONIC) in lower-case base 36. An extended
 * message's body starts with it; a legacy line has it after its `[ secs.usecs] ` prefix, so for
 * those the first PROBE_STAMP_WINDOW bytes are searched. Bytes only, no allocation, no locale.
 */
#ifndef NETCONS_PROBE_STAMP_H
#define NETCONS_PROBE_STAMP_H

#include <stddef.h>
#include <stdint.h>

#define PROBE_STAMP_WINDOW 64

static inline int probe_base36(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	return -1;
}

/* The stamp's body after "ncb1:" at p[0..len): 1 with *intended_us set, or 0. */
static inline int probe_stamp_body(const unsigned char *p, size_t len, uint64_t *intended_us)
{
	size_t i = 0;
	int digits = 0;
	for (; i < len && p[i] != ':'; i++, digits++)
		if (probe_base36(p[i]) < 0 || digits > 10)
			return 0;
	if (digits == 0 || i >= len)
		return 0;
	i++;
	uint64_t us = 0;
	digits = 0;
	for (; i < len && p[i] != ' '; i++, digits++) {
		int d = probe_base36(p[i]);
		if (d < 0 || digits > 12)
			return 0;
		us = us * 36 + (uint64_t)d;
	}
	if (digits == 0)
		return 0;
	*intended_us = us;
	return 1;
}

/*
 * Looks for a stamp starting anywhere in text[0..window] (window 0: only at the start).
 * Returns 1 with *intended_us set, or 0.
 */
static inline int probe_find_stamp(const char *text, size_t len, size_t window,
				   uint64_t *intended_us)
{
	const unsigned char *t = (const unsigned char *)text;
	for (size_t at = 0; at <= window && at + 5 <= len; at++) {
		if (t[at] == 'n' && t[at + 1] == 'c' && t[at + 2] == 'b' && t[at + 3] == '1' &&
		    t[at + 4] == ':')
			return probe_stamp_body(t + at + 5, len - at - 5, intended_us);
	}
	return 0;
}

#endif
