/**
 * `--transport udp-batch`: ordinary UDP, but one socket per worker and sendmmsg batches instead
 * of one socket and one send call per host and datagram, to measure what batching alone gains
 * over Node's dgram. Hosts keep distinct source addresses through IP_PKTINFO / IPV6_PKTINFO
 * (per datagram, no socket per host, so no file-descriptor limit): any 127.x.y.z works
 * unprivileged; an IPv6 prefix works through IPV6_FREEBIND when it is routed to this machine.
 * Needs the native addon, no capability.
 */

import { type SourcePrefix, writeHostAddress } from "./raw/address.ts";
import { BatchedTransport, BatchSender, SEND_TIMEOUT_MS, SNDBUF_BYTES } from "./raw/batched.ts";
import { loadNetRaw, requireNetRaw } from "./raw/native.ts";
import { spoofingRefusal, type WirePlan, wirePlan } from "./raw/plan.ts";
import type { TransportModule, TransportOptions } from "./transport.ts";

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
  return refusal ? `--transport udp-batch: ${refusal}` : null;
}

class UdpBatchTransport extends BatchedTransport {
  readonly name = "udp-batch";
  private readonly prefix: SourcePrefix | null;
  private readonly sourceBytes: number;

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
  }

  send(host: number, buffer: Buffer, offset: number, length: number): void {
    if (!this.sender.room(length)) return;
    const batch = this.sender.batch;
    const sources = this.sender.sources;
    if (sources && this.prefix)
      writeHostAddress(this.prefix, host, sources, batch.count * this.sourceBytes);
    buffer.copy(batch.buffer, batch.used, offset, offset + length);
    batch.commit(length);
  }
}

export const transport: TransportModule = {
  description:
    "ordinary UDP in sendmmsg batches, one socket per worker, per-host sources via IP_PKTINFO (native addon, no capability)",
  check,
  create: (options) => new UdpBatchTransport(options),
};
