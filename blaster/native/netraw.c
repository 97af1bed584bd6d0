/*
 * netraw: the smallest native piece netcons-bench needs, against Node-API only (ABI-stable, so a
 * build against any Node's headers loads on the pinned Node 24).
 *
 * Node has neither raw sockets nor sendmmsg(2)/recvmmsg(2). This addon opens a socket (raw IPv6/IPv4 with the
 * IP header supplied by the caller, or an ordinary UDP socket) and sends a batch of datagrams
 * that JavaScript already built, laid out in one Buffer with offset/length arrays. It builds no
 * packets: every header byte comes from blaster/raw/packet.ts.
 *
 * Exports:
 *   open(kind, bindAddress?, bindPort?, connectAddress?, connectPort?, sndbufBytes?, sendTimeoutMs?) -> fd
 *       kind: "raw6" | "raw4" | "udp6" | "udp4". Throws an Error with .code = errno name and
 *       .errno = number when the socket cannot be opened, bound or connected.
 *   sendBatch(fd, buffer, offsets: Uint32Array, lengths: Uint32Array, count, result: Int32Array,
 *             destAddress?, destPort?, sources?, segments?) -> sent
 *       result (length >= 4, reused by the caller: no allocation per batch): [0] datagrams sent,
 *       [1] datagrams that failed, [2] last errno (0 if none), [3] bytes sent. A datagram the
 *       kernel refuses is skipped and counted and the rest still go out, so one bad datagram never
 *       loses a batch; a send timeout (EAGAIN) gives up the rest of the batch at once.
 *       destAddress/destPort are for unconnected sockets.
 *       sources (UDP sockets only): a Buffer with one source address per datagram (4 bytes each
 *       for udp4, 16 for udp6), passed as IP_PKTINFO / IPV6_PKTINFO so one socket sends for many
 *       hosts (127.0.0.0/8 is all local; IPv6 prefixes need IPV6_FREEBIND, set by open()).
 *       segments (UDP sockets only): a Uint16Array, per entry the UDP GSO segment size, or 0. An
 *       entry with a segment size shorter than its length is several equal datagrams laid end to
 *       end, sent with one UDP_SEGMENT control message: the kernel cuts it into datagrams of that
 *       size (each with its own UDP header and checksum), as if each had been sent on its own.
 *       Counts in result are datagrams (segments), not entries.
 *   udpSegmentSupported(fd) -> boolean   (whether the kernel has UDP GSO: getsockopt UDP_SEGMENT)
 *   close(fd)
 *   openListener(bindAddress, port, rcvbufBytes) -> fd
 *       A UDP socket for the receiver's listeners: AF_INET6 (dual-stack, IPV6_V6ONLY=0) for an
 *       IPv6 address, else AF_INET; SO_REUSEPORT; SO_RCVBUF when rcvbufBytes > 0; bound. Throws as
 *       open() does.
 *   socketInfo(fd) -> { address, port, rcvbufBytes }   (getsockname + the granted SO_RCVBUF)
 *   recvBatch(fd, buffer, meta: Int32Array, maxMsgs, timeoutMs) -> count, or -errno
 *       One recvmmsg into buffer, datagram i in slot i (buffer.length / maxMsgs bytes; longer
 *       datagrams are cut there and flagged). Waits up to timeoutMs (poll) when nothing is queued,
 *       so the caller can look at its stop flag; EAGAIN/EINTR return 0. meta, RECV_META int32s
 *       per datagram: [0] length kept, [1] source port, [2] 1 if truncated, [3] length of the
 *       source address text, [4..7] the 16-byte source address (IPv4 as ::ffff:a.b.c.d),
 *       [8..23] the address text as inet_ntop writes it (what Node's dgram reports).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define NAPI_VERSION 8
#include <node_api.h>

/* Messages handed to one sendmmsg call; the stack arrays (headers, iovecs, control) stay
 * around 40 KB. */
#define CHUNK 256

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define CHECK(env, call)                                                   \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error((env), NULL, "netraw: Node-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char *what) {
  char message[256];
  napi_value msg, code, error, num;
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  const char *name = strerrorname_np(err);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static int is_missing(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 1;
  return t == napi_undefined || t == napi_null;
}

/* Fills a sockaddr from a numeric address string and port; 0 on success, -1 if unparsable. */
static int make_sockaddr(napi_env env, napi_value addr_v, uint32_t port, int family,
                         struct sockaddr_storage *ss, socklen_t *len) {
  char text[64];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, addr_v, text, sizeof text, &n) != napi_ok) return -1;
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, text, &s6->sin6_addr) != 1) return -1;
    *len = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, text, &s4->sin_addr) != 1) return -1;
    *len = sizeof *s4;
  }
  return 0;
}

static napi_value do_open(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "netraw.open: kind is required");

  char kind[16];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, argv[0], kind, sizeof kind, &n) != napi_ok)
    return throw_type(env, "netraw.open: kind must be a string");

  int family, type, protocol, hdrincl = 0;
  if (strcmp(kind, "raw6") == 0) {
    /* IPPROTO_RAW on AF_INET6 means the caller supplies the IPv6 header (as netconsblaster). */
    family = AF_INET6, type = SOCK_RAW, protocol = IPPROTO_RAW;
  } else if (strcmp(kind, "raw4") == 0) {
    family = AF_INET, type = SOCK_RAW, protocol = IPPROTO_RAW, hdrincl = 1;
  } else if (strcmp(kind, "udp6") == 0) {
    family = AF_INET6, type = SOCK_DGRAM, protocol = IPPROTO_UDP;
  } else if (strcmp(kind, "udp4") == 0) {
    family = AF_INET, type = SOCK_DGRAM, protocol = IPPROTO_UDP;
  } else {
    return throw_type(env, "netraw.open: kind must be raw6, raw4, udp6 or udp4");
  }

  int fd = socket(family, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) return throw_errno(env, errno, "socket");

  int one = 1;
  if (hdrincl && setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof one) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "setsockopt(IP_HDRINCL)");
  }

  /* Lets IPV6_PKTINFO name source addresses that are routed here but not configured (a
   * prefix the user prepared). Unprivileged; harmless where unused. */
  if (family == AF_INET6 && type == SOCK_DGRAM) setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one);

  int32_t sndbuf = 0;
  if (argc > 5 && !is_missing(env, argv[5])) napi_get_value_int32(env, argv[5], &sndbuf);
  if (sndbuf > 0) {
    /* SO_SNDBUFFORCE passes the sysctl cap when we may (root); otherwise the capped request. */
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0)
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  }

  /* A blocking socket gives natural back-pressure, and the timeout bounds every wait, so a
   * send never hangs a worker: a full queue shows up as EAGAIN in the batch result. */
  int32_t timeout_ms = 1000;
  if (argc > 6 && !is_missing(env, argv[6])) napi_get_value_int32(env, argv[6], &timeout_ms);
  struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

  struct sockaddr_storage ss;
  socklen_t len;
  if (argc > 1 && !is_missing(env, argv[1])) {
    uint32_t port = 0;
    if (argc > 2 && !is_missing(env, argv[2])) napi_get_value_uint32(env, argv[2], &port);
    if (make_sockaddr(env, argv[1], port, family, &ss, &len) < 0) {
      close(fd);
      return throw_type(env, "netraw.open: bind address is not a numeric address of the family");
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
      int err = errno;
      close(fd);
      return throw_errno(env, err, "bind");
    }
  }
  if (argc > 3 && !is_missing(env, argv[3])) {
    uint32_t port = 0;
    if (argc > 4 && !is_missing(env, argv[4])) napi_get_value_uint32(env, argv[4], &port);
    /* A raw socket takes no port (the UDP header carries it). */
    if (make_sockaddr(env, argv[3], type == SOCK_RAW ? 0 : port, family, &ss, &len) < 0) {
      close(fd);
      return throw_type(env, "netraw.open: connect address is not a numeric address of the family");
    }
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
      int err = errno;
      close(fd);
      return throw_errno(env, err, "connect");
    }
  }

  napi_value out;
  CHECK(env, napi_create_int32(env, fd, &out));
  return out;
}

static int get_u32_array(napi_env env, napi_value v, uint32_t **data, size_t *length) {
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  void *ptr;
  if (napi_get_typedarray_info(env, v, &type, length, &ptr, &ab, &offset) != napi_ok) return -1;
  if (type != napi_uint32_array) return -1;
  *data = ptr;
  return 0;
}

/* Datagrams an entry of `length` bytes stands for: several with a GSO segment size, else one. */
static int32_t datagrams_of(uint32_t length, uint16_t segment) {
  if (segment == 0 || segment >= length) return 1;
  return (int32_t)((length + segment - 1) / segment);
}

static napi_value do_send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return throw_type(env, "netraw.sendBatch: (fd, buffer, offsets, lengths, count, result) required");

  int32_t fd, count;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return throw_type(env, "netraw.sendBatch: fd must be a number");

  uint8_t *buf;
  size_t buflen;
  if (napi_get_buffer_info(env, argv[1], (void **)&buf, &buflen) != napi_ok)
    return throw_type(env, "netraw.sendBatch: buffer must be a Buffer");

  uint32_t *offsets, *lengths;
  size_t noff, nlen;
  if (get_u32_array(env, argv[2], &offsets, &noff) < 0 || get_u32_array(env, argv[3], &lengths, &nlen) < 0)
    return throw_type(env, "netraw.sendBatch: offsets and lengths must be Uint32Arrays");
  if (napi_get_value_int32(env, argv[4], &count) != napi_ok || count < 0 || (size_t)count > noff ||
      (size_t)count > nlen)
    return throw_type(env, "netraw.sendBatch: count must fit the offsets and lengths arrays");

  napi_typedarray_type rtype;
  size_t rlen;
  void *rptr;
  napi_value rab;
  size_t roff;
  if (napi_get_typedarray_info(env, argv[5], &rtype, &rlen, &rptr, &rab, &roff) != napi_ok ||
      rtype != napi_int32_array || rlen < 4)
    return throw_type(env, "netraw.sendBatch: result must be an Int32Array of length >= 4");
  int32_t *result = rptr;

  for (int32_t i = 0; i < count; i++) {
    if ((size_t)offsets[i] + lengths[i] > buflen)
      return throw_type(env, "netraw.sendBatch: an offset/length pair runs past the buffer");
  }

  struct sockaddr_storage dest;
  socklen_t destlen = 0;
  if (argc > 6 && !is_missing(env, argv[6])) {
    struct sockaddr_storage own;
    socklen_t ownlen = sizeof own;
    if (getsockname(fd, (struct sockaddr *)&own, &ownlen) < 0) return throw_errno(env, errno, "getsockname");
    uint32_t port = 0;
    if (argc > 7 && !is_missing(env, argv[7])) napi_get_value_uint32(env, argv[7], &port);
    if (make_sockaddr(env, argv[6], port, own.ss_family, &dest, &destlen) < 0)
      return throw_type(env, "netraw.sendBatch: destination is not a numeric address of the socket's family");
  }

  uint8_t *sources = NULL;
  size_t sources_len = 0;
  int source_family = 0;
  if (argc > 8 && !is_missing(env, argv[8])) {
    struct sockaddr_storage own;
    socklen_t ownlen = sizeof own;
    if (napi_get_buffer_info(env, argv[8], (void **)&sources, &sources_len) != napi_ok)
      return throw_type(env, "netraw.sendBatch: sources must be a Buffer");
    if (getsockname(fd, (struct sockaddr *)&own, &ownlen) < 0) return throw_errno(env, errno, "getsockname");
    source_family = own.ss_family;
    size_t need = (size_t)count * (source_family == AF_INET6 ? 16 : 4);
    if (sources_len < need) return throw_type(env, "netraw.sendBatch: sources is shorter than count addresses");
  }

  uint16_t *segments = NULL;
  if (argc > 9 && !is_missing(env, argv[9])) {
    napi_typedarray_type stype;
    size_t slen, soff;
    void *sptr;
    napi_value sab;
    if (napi_get_typedarray_info(env, argv[9], &stype, &slen, &sptr, &sab, &soff) != napi_ok ||
        stype != napi_uint16_array || slen < (size_t)count)
      return throw_type(env, "netraw.sendBatch: segments must be a Uint16Array of at least count entries");
    segments = sptr;
  }

  struct mmsghdr msgs[CHUNK];
  struct iovec iov[CHUNK];
  /* Control data: a per-datagram source address (sized for the larger IPv6 form) and a UDP GSO
   * segment size. */
  union {
    char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } control[CHUNK];
  int32_t sent = 0, failed = 0, last_errno = 0;
  int64_t bytes = 0;
  int32_t next = 0;
  while (next < count) {
    int32_t n = count - next < CHUNK ? count - next : CHUNK;
    for (int32_t i = 0; i < n; i++) {
      iov[i].iov_base = buf + offsets[next + i];
      iov[i].iov_len = lengths[next + i];
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      if (destlen) {
        msgs[i].msg_hdr.msg_name = &dest;
        msgs[i].msg_hdr.msg_namelen = destlen;
      }
      uint16_t segment = segments ? segments[next + i] : 0;
      int gso = segment > 0 && segment < lengths[next + i];
      if (sources || gso) {
        struct msghdr *h = &msgs[i].msg_hdr;
        memset(control[i].buf, 0, sizeof control[i].buf);
        h->msg_control = control[i].buf;
        h->msg_controllen = sizeof control[i].buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(h);
        size_t used = 0;
        if (sources && source_family == AF_INET6) {
          struct in6_pktinfo info = {0};
          memcpy(&info.ipi6_addr, sources + (size_t)(next + i) * 16, 16);
          c->cmsg_level = IPPROTO_IPV6, c->cmsg_type = IPV6_PKTINFO, c->cmsg_len = CMSG_LEN(sizeof info);
          memcpy(CMSG_DATA(c), &info, sizeof info);
          used += CMSG_SPACE(sizeof info);
          c = CMSG_NXTHDR(h, c);
        } else if (sources) {
          struct in_pktinfo info = {0};
          memcpy(&info.ipi_spec_dst, sources + (size_t)(next + i) * 4, 4);
          c->cmsg_level = IPPROTO_IP, c->cmsg_type = IP_PKTINFO, c->cmsg_len = CMSG_LEN(sizeof info);
          memcpy(CMSG_DATA(c), &info, sizeof info);
          used += CMSG_SPACE(sizeof info);
          c = CMSG_NXTHDR(h, c);
        }
        if (gso) {
          c->cmsg_level = SOL_UDP, c->cmsg_type = UDP_SEGMENT, c->cmsg_len = CMSG_LEN(sizeof segment);
          memcpy(CMSG_DATA(c), &segment, sizeof segment);
          used += CMSG_SPACE(sizeof segment);
        }
        h->msg_controllen = used;
      }
    }
    int r = sendmmsg(fd, msgs, (unsigned)n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      last_errno = errno;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        /* The send timeout expired on a full queue: give up the rest of the batch rather than
         * wait once more per datagram. */
        for (int32_t k = next; k < count; k++) failed += datagrams_of(lengths[k], segments ? segments[k] : 0);
        break;
      }
      /* sendmmsg reports an error only for the first entry of the call: skip that one. */
      failed += datagrams_of(lengths[next], segments ? segments[next] : 0);
      next++;
      continue;
    }
    for (int i = 0; i < r; i++) {
      bytes += msgs[i].msg_len;
      sent += datagrams_of(lengths[next + i], segments ? segments[next + i] : 0);
    }
    next += r;
  }
  result[0] = sent;
  result[1] = failed;
  result[2] = last_errno;
  result[3] = (int32_t)(bytes > INT32_MAX ? INT32_MAX : bytes);
  napi_value out;
  CHECK(env, napi_create_int32(env, sent, &out));
  return out;
}

/* The fd of a call whose only argument is one; 0 on success, else a TypeError is pending. */
static int fd_arg(napi_env env, napi_callback_info info, const char *message, int32_t *fd) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], fd) != napi_ok) {
    throw_type(env, message);
    return -1;
  }
  return 0;
}

static napi_value do_udp_segment_supported(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (fd_arg(env, info, "netraw.udpSegmentSupported: fd required", &fd) < 0) return NULL;
  int value = 0;
  socklen_t len = sizeof value;
  napi_value out;
  CHECK(env, napi_get_boolean(env, getsockopt(fd, SOL_UDP, UDP_SEGMENT, &value, &len) == 0, &out));
  return out;
}

static napi_value do_close(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (fd_arg(env, info, "netraw.close: fd required", &fd) < 0) return NULL;
  if (close(fd) < 0) return throw_errno(env, errno, "close");
  return NULL;
}

/* Per-datagram int32s in recvBatch's meta (keep in step with receiver/native-listener.ts). */
#define RECV_META 24
#define RECV_MAX 256

static napi_value do_open_listener(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "netraw.openListener: (bindAddress, port, rcvbufBytes) required");
  char text[64];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, argv[0], text, sizeof text, &n) != napi_ok)
    return throw_type(env, "netraw.openListener: bindAddress must be a string");
  uint32_t port = 0;
  int32_t rcvbuf = 0;
  napi_get_value_uint32(env, argv[1], &port);
  if (argc > 2 && !is_missing(env, argv[2])) napi_get_value_int32(env, argv[2], &rcvbuf);
  int family = strchr(text, ':') ? AF_INET6 : AF_INET;
  struct sockaddr_storage ss;
  socklen_t len;
  if (make_sockaddr(env, argv[0], port, family, &ss, &len) < 0)
    return throw_type(env, "netraw.openListener: bindAddress is not a numeric address");
  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) return throw_errno(env, errno, "socket");
  int one = 1, zero = 0;
  /* As Node's dgram (and netconsd) on "::": IPv4 senders arrive as ::ffff:a.b.c.d. */
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
      (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0)) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "setsockopt");
  }
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind");
  }
  napi_value out;
  CHECK(env, napi_create_int32(env, fd, &out));
  return out;
}

static napi_value do_socket_info(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (fd_arg(env, info, "netraw.socketInfo: fd required", &fd) < 0) return NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return throw_errno(env, errno, "getsockname");
  char text[INET6_ADDRSTRLEN] = "";
  int port;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text);
    port = ntohs(s6->sin6_port);
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &s4->sin_addr, text, sizeof text);
    port = ntohs(s4->sin_port);
  }
  int rcvbuf = 0;
  socklen_t optlen = sizeof rcvbuf;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &optlen);
  napi_value out, v;
  CHECK(env, napi_create_object(env, &out));
  CHECK(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v));
  CHECK(env, napi_set_named_property(env, out, "address", v));
  CHECK(env, napi_create_int32(env, port, &v));
  CHECK(env, napi_set_named_property(env, out, "port", v));
  CHECK(env, napi_create_int32(env, rcvbuf, &v));
  CHECK(env, napi_set_named_property(env, out, "rcvbufBytes", v));
  return out;
}

static napi_value do_recv_batch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throw_type(env, "netraw.recvBatch: (fd, buffer, meta, maxMsgs, timeoutMs) required");
  int32_t fd, max, timeout_ms;
  uint8_t *buf;
  size_t buflen;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return throw_type(env, "netraw.recvBatch: fd must be a number");
  if (napi_get_buffer_info(env, argv[1], (void **)&buf, &buflen) != napi_ok)
    return throw_type(env, "netraw.recvBatch: buffer must be a Buffer");
  napi_typedarray_type mtype;
  size_t mlen, moff;
  void *mptr;
  napi_value mab;
  if (napi_get_typedarray_info(env, argv[2], &mtype, &mlen, &mptr, &mab, &moff) != napi_ok || mtype != napi_int32_array)
    return throw_type(env, "netraw.recvBatch: meta must be an Int32Array");
  if (napi_get_value_int32(env, argv[3], &max) != napi_ok || max < 1 || max > RECV_MAX ||
      (size_t)max * RECV_META > mlen || buflen / (size_t)max < 1)
    return throw_type(env, "netraw.recvBatch: maxMsgs must be 1..256 and fit meta and buffer");
  if (napi_get_value_int32(env, argv[4], &timeout_ms) != napi_ok) timeout_ms = 0;
  int32_t *meta = mptr;
  size_t slot = buflen / (size_t)max;

  struct mmsghdr msgs[RECV_MAX];
  struct iovec iov[RECV_MAX];
  struct sockaddr_in6 from[RECV_MAX]; /* large enough for either family */
  for (int32_t i = 0; i < max; i++) {
    iov[i].iov_base = buf + (size_t)i * slot;
    iov[i].iov_len = slot;
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_namelen = sizeof from[i];
  }
  /* Under load something is always queued: try first, and poll only when the queue is empty. */
  int r = recvmmsg(fd, msgs, (unsigned)max, MSG_DONTWAIT, NULL);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && timeout_ms > 0) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) > 0) r = recvmmsg(fd, msgs, (unsigned)max, MSG_DONTWAIT, NULL);
  }
  if (r < 0) r = (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -errno;
  for (int i = 0; i < r; i++) {
    int32_t *m = meta + (size_t)i * RECV_META;
    uint8_t *addr = (uint8_t *)(m + 4);
    char *text = (char *)(m + 8);
    m[0] = (int32_t)msgs[i].msg_len;
    m[2] = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? 1 : 0;
    if (from[i].sin6_family == AF_INET6) {
      m[1] = ntohs(from[i].sin6_port);
      memcpy(addr, &from[i].sin6_addr, 16);
      inet_ntop(AF_INET6, addr, text, 64);
    } else {
      struct sockaddr_in *s4 = (struct sockaddr_in *)&from[i];
      static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      m[1] = ntohs(s4->sin_port);
      memcpy(addr, mapped, 12);
      memcpy(addr + 12, &s4->sin_addr, 4);
      inet_ntop(AF_INET, &s4->sin_addr, text, 64);
    }
    m[3] = (int32_t)strlen(text);
  }
  napi_value out;
  CHECK(env, napi_create_int32(env, r, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, do_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendBatch", NULL, do_send_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, do_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpSegmentSupported", NULL, do_udp_segment_supported, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openListener", NULL, do_open_listener, NULL, NULL, NULL, napi_enumerable, NULL},
      {"socketInfo", NULL, do_socket_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recvBatch", NULL, do_recv_batch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
