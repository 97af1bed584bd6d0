/*
 * netconsd's output-module interface, declared here from its documented public layout: the two
 * structures a module receives (only their public fields) and the three entry points netconsd
 * looks up with dlsym. The layout is x86-64/aarch64 LP64; the static asserts pin the offsets a
 * module relies on, so a compiler or ABI that lays them out differently fails the build instead
 * of reading the wrong bytes.
 *
 * Thread model (netconsd): netconsd_output_init(nr_workers) runs once at start-up, before any
 * worker thread exists; a non-zero return stops netconsd. netconsd_output_handler(t, ...) runs on
 * worker thread t (0 <= t < nr_workers), and each t is one thread only, so per-t state needs no
 * lock. netconsd_output_exit() runs once at shutdown, after the worker threads have been joined.
 *
 * Exactly one of buf/msg is non-NULL in a handler call:
 *  - msg: an extended netconsole message that netconsd's receive state machine parsed and
 *    released in sequence order (fragments already joined). text/text_len is the message body
 *    (after the header's ';'); the flags say whether it came out of sequence (oos) or started a
 *    new sequence stream (seq_reset: also the first message of every host).
 *  - buf: a datagram the state machine did not take (legacy `[ secs.usecs] text` lines, or
 *    anything it could not parse). buf->buf holds rcv_bytes bytes followed by a NUL.
 *
 * Clocks: msg_buf.rcv_time is CLOCK_REALTIME in whole milliseconds, stamped by the listener once
 * per recvmmsg batch (every datagram of a batch carries the same value).
 */
#ifndef NETCONS_PROBE_NETCONSD_ABI_H
#define NETCONS_PROBE_NETCONSD_ABI_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* A datagram as a listener queued it for a worker. */
struct msg_buf {
	struct msg_buf *next;     /* the worker queue's link */
	struct iovec iovec;       /* the receive buffer as handed to recvmmsg */
	struct sockaddr_in6 src;  /* sender (IPv4 senders appear as ::ffff:a.b.c.d) */
	uint64_t rcv_time;        /* CLOCK_REALTIME ms, one value per recvmmsg batch */
	int rcv_flags;            /* msg_flags from recvmmsg */
	int rcv_bytes;            /* datagram length (netconsd truncates at 1023 bytes) */
	char buf[];               /* the datagram, NUL-terminated by the worker */
};

/* The public head of a parsed message; netconsd's private fields follow and are never read. */
struct ncrx_msg {
	uint64_t seq;             /* printk sequence number */
	uint64_t ts_usec;         /* printk timestamp, µs since the sender booted */
	char *text;               /* message body */
	char *dict;               /* dictionary (text after the first LF), or NULL */
	int text_len;
	int dict_len;
	uint8_t facility;
	uint8_t level;
	unsigned cont_start : 1;  /* first of a continued message */
	unsigned cont : 1;        /* continuation of the previous message */
	unsigned oos : 1;         /* out of sequence */
	unsigned seq_reset : 1;   /* sequence stream (re)started */
};

_Static_assert(offsetof(struct msg_buf, rcv_time) == 56, "msg_buf.rcv_time offset");
_Static_assert(offsetof(struct msg_buf, rcv_bytes) == 68, "msg_buf.rcv_bytes offset");
_Static_assert(offsetof(struct msg_buf, buf) == 72, "msg_buf.buf offset");
_Static_assert(offsetof(struct ncrx_msg, text) == 16, "ncrx_msg.text offset");
_Static_assert(offsetof(struct ncrx_msg, dict) == 24, "ncrx_msg.dict offset");
_Static_assert(offsetof(struct ncrx_msg, text_len) == 32, "ncrx_msg.text_len offset");
_Static_assert(offsetof(struct ncrx_msg, dict_len) == 36, "ncrx_msg.dict_len offset");
_Static_assert(offsetof(struct ncrx_msg, facility) == 40, "ncrx_msg.facility offset");
_Static_assert(offsetof(struct ncrx_msg, level) == 41, "ncrx_msg.level offset");

/* Byte 42 holds the four flag bits, cont_start in bit 0 .. seq_reset in bit 3 (checked by the
 * host program in the tests, which writes them as raw bits). */
#define NCRX_MSG_FLAGS_OFFSET 42
#define NCRX_MSG_FLAG_CONT_START 0x1
#define NCRX_MSG_FLAG_CONT 0x2
#define NCRX_MSG_FLAG_OOS 0x4
#define NCRX_MSG_FLAG_SEQ_RESET 0x8

int netconsd_output_init(int nr_workers);
void netconsd_output_handler(int t, struct in6_addr *src, struct msg_buf *buf,
			     struct ncrx_msg *msg);
void netconsd_output_exit(void);

#endif
