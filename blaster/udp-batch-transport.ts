/**
 * `--transport udp-batch`: ordinary UDP, but one socket per worker and sendmmsg batches instead
 * of one socket and one send call per host and datagram, to measure what batching alone gains
 * over Node's dgram. Hosts keep distinct source addresses through IP_PKTINFO / IPV6_PKTINFO
 * (per datagram, no socket per host, so no file-descriptor limit): any 127.x.y.z works
 * unprivileged; an IPv6 prefix works through IPV6_FREEBIND when it is routed to this machine.
 * Needs the native addon, no capability.
 *
 * UDP GSO (--gso auto|on|off): consecutive datagrams of one source address with the same length
 * (one host's, or any with --sources shared) join one entry of the batch, laid end to end, and
 * leave as one send with a UDP_SEGMENT size; the
 * kernel cuts it into the same datagrams (own UDP header and checksum each) as separate sends
 * would give. "auto" uses it where the kernel offers it; "on" refuses to run without it.
 */

import { type SourcePrefix, writeHostAddress } from "./raw/address.ts";
import { BatchedTransport, BatchSender, SEND_TIMEOUT_MS, SNDBUF_BYTES } from "./raw/batched.ts";
import { loadNetRaw, type NetRaw, requireNetRaw } from "./raw/native.ts";
import { spoofingRefusal, type WirePlan, wirePlan } from "./raw/plan.ts";
import type { TransportModule, TransportOptions } from "./transport.ts";

/** Datagrams one GSO send may carry (the kernel's UDP_MAX_SEGMENTS is 64 on older kernels). */
export const GSO_MAX_SEGMENTS = 64;
/** Bytes one GSO send may carry: its datagrams must fit one IP datagram of at most 64 KiB. */
export const GSO_MAX_BYTES = 65_000;

/** Whether the kernel offers UDP GSO, asked on a throwaway socket of the family. */
function gsoSupported(addon: NetRaw, family: 4 | 6): boolean {
  const fd = addon.open(family === 6 ? "udp6" : "udp4");
  try {
    return addon.udpSegmentSupported(fd);
  } finally {
    addon.close(fd);
  }
}

function check(options: TransportOptions): string | null {
  const loaded = loadNetRaw();
  if ("error" in loaded) return `--transport udp-batch needs ${loaded.error}`;
  let plan: WirePlan;
  try {
    plan = wirePlan(options);
  } catch (error) {
    return `--transport udp-batch: ${(error as Error).message}`;
  }
  // Source addresses that are not this machine's own are spoofing too, whatever the socket.
  const foreign = plan.prefix && !(plan.family === 4 && plan.prefix.bytes[0] === 127);
  const refusal = foreign ? spoofingRefusal(plan.destination, options.allowRemote === true) : null;
  if (refusal) return `--transport udp-batch: ${refusal}`;
  if (options.gso === "on" && !gsoSupported(loaded.addon, plan.family))
    return "--gso on: this kernel has no UDP GSO (UDP_SEGMENT, Linux >= 4.18); use --gso auto or off";
  return null;
}

class UdpBatchTransport extends BatchedTransport {
  readonly name = "udp-batch";
  private readonly prefix: SourcePrefix | null;
  private readonly sourceBytes: number;
  /** The host of the batch's last entry (with per-host sources, GSO joins only its datagrams). */
  private lastHost = -1;

  constructor(options: TransportOptions) {
    const addon = requireNetRaw("--transport udp-batch");
    const plan = wirePlan(options);
    const kind = plan.family === 6 ? "udp6" : "udp4";
    const sourceBytes = plan.prefix ? (plan.family === 6 ? 16 : 4) : 0;
    // Shared source: a connected socket (the kernel routes once). Per-host sources: unconnected,
    // with the destination on every datagram, so each datagram's own source address is honoured.
    const connectTo = plan.prefix ? undefined : plan.destination;
    const fd = addon.open(
      kind,
      undefined,
      undefined,
      connectTo,
      plan.port,
      SNDBUF_BYTES,
      SEND_TIMEOUT_MS,
    );
    super(
      new BatchSender(addon, fd, {
        overheadBytes: 0,
        destination: plan.prefix ? plan.destination : undefined,
        port: plan.prefix ? plan.port : undefined,
        sourceBytes,
      }),
    );
    this.prefix = plan.prefix;
    this.sourceBytes = sourceBytes;
    const gso = options.gso ?? "auto";
    this.sender.gso = gso !== "off" && gsoSupported(addon, plan.family);
    if (gso === "on" && !this.sender.gso)
      throw new Error("--gso on: this kernel has no UDP GSO (UDP_SEGMENT, Linux >= 4.18)");
    this.sender.counters.gsoWorkers = this.sender.gso ? 1 : 0;
    this.sender.counters.gsoSends = 0;
    this.sender.counters.gsoDatagrams = 0;
  }

  /**
   * Describes the datagram where it lies (no copy): the batch borrows the caller's buffer until
   * it is sent (at flush, or when full), and a datagram in another buffer sends the batch first.
   */
  send(host: number, buffer: Buffer, offset: number, length: number): void {
    const sender = this.sender;
    const batch = sender.batch;
    if (batch.buffer !== buffer) {
      sender.sendNow();
      batch.borrow(buffer);
    }
    // Per-host sources: only a host's own consecutive datagrams share a source address. A shared
    // source: every datagram has the same addresses, so any equal-size neighbours may join.
    if (sender.gso && (host === this.lastHost || !this.prefix) && this.joins(offset, length)) {
      const c = sender.counters;
      // The entry's first datagram becomes part of a GSO send when the second joins it.
      if (batch.segments[batch.count - 1] === 0) {
        c.gsoSends++;
        c.gsoDatagrams++;
      }
      c.gsoDatagrams++;
      batch.extend(length);
      return;
    }
    if (batch.count === batch.capacity) {
      sender.sendNow();
      batch.borrow(buffer);
    }
    this.lastHost = host;
    const sources = sender.sources;
    if (sources && this.prefix)
      writeHostAddress(this.prefix, host, sources, batch.count * this.sourceBytes);
    batch.describe(offset, length);
  }

  /**
   * Whether a datagram of `length` at `offset` may join the batch's last entry as one more
   * segment: the same size as its datagrams, right after them, within the kernel's limits.
   */
  private joins(offset: number, length: number): boolean {
    const batch = this.sender.batch;
    if (batch.count === 0) return false;
    const last = batch.count - 1;
    const entry = batch.lengths[last];
    const segment = batch.segments[last] || entry;
    return (
      segment === length &&
      offset === batch.offsets[last] + entry &&
      entry + length <= GSO_MAX_BYTES &&
      entry / segment < GSO_MAX_SEGMENTS
    );
  }
}

export const transport: TransportModule = {
  description:
    "ordinary UDP in sendmmsg batches, one socket per worker, per-host sources via IP_PKTINFO (native addon, no capability)",
  check,
  create: (options) => new UdpBatchTransport(options),
};
