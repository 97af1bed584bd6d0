/**
 * `--transport udp-batch`: ordinary UDP, but one socket per worker and sendmmsg batches instead
 * of one socket and one send call per host and datagram, to measure what batching alone gains
 * over Node's dgram. Hosts keep distinct source addresses through IP_PKTINFO / IPV6_PKTINFO
 * (per datagram, no socket per host, so no file-descriptor limit): any 127.x.y.z works
 * unprivileged; an IPv6 prefix works through IPV6_FREEBIND when it is routed to this machine.
 * Needs the native addon, no capability.
 */

import type { Transport, TransportModule, TransportOptions } from "../transport.ts";
import { writeHostAddress } from "./address.ts";
import { BatchSender, SEND_TIMEOUT_MS, SNDBUF_BYTES } from "./batched.ts";
import { loadNetRaw, requireNetRaw } from "./native.ts";
import { spoofingRefusal, type WirePlan, wirePlan } from "./plan.ts";

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

class UdpBatchTransport implements Transport {
  readonly name = "udp-batch";
  private readonly sender: BatchSender;
  private readonly plan: WirePlan;
  private readonly sourceBytes: number;

  constructor(options: TransportOptions) {
    const addon = requireNetRaw("--transport udp-batch");
    this.plan = wirePlan(options);
    const kind = this.plan.family === 6 ? "udp6" : "udp4";
    this.sourceBytes = this.plan.prefix ? (this.plan.family === 6 ? 16 : 4) : 0;
    // Shared source: a connected socket (the kernel routes once). Per-host sources: unconnected,
    // with the destination on every datagram, so each datagram's own source address is honoured.
    const fd = this.plan.prefix
      ? addon.open(kind, undefined, undefined, undefined, undefined, SNDBUF_BYTES, SEND_TIMEOUT_MS)
      : addon.open(
          kind,
          undefined,
          undefined,
          this.plan.destination,
          this.plan.port,
          SNDBUF_BYTES,
          SEND_TIMEOUT_MS,
        );
    this.sender = new BatchSender(addon, fd, {
      overheadBytes: 0,
      destination: this.plan.prefix ? this.plan.destination : undefined,
      port: this.plan.prefix ? this.plan.port : undefined,
      sourceBytes: this.sourceBytes,
    });
  }

  get counters() {
    return this.sender.counters;
  }

  prepare(): undefined {
    return undefined;
  }

  send(host: number, buffer: Buffer, offset: number, length: number): void {
    const batch = this.sender.batch;
    if (!batch.fits(length)) {
      this.sender.sendNow();
      if (!batch.fits(length)) {
        this.sender.refuse("EMSGSIZE");
        return;
      }
    }
    const sources = this.sender.sources;
    if (sources && this.plan.prefix)
      writeHostAddress(this.plan.prefix, host, sources, batch.count * this.sourceBytes);
    buffer.copy(batch.buffer, batch.used, offset, offset + length);
    batch.commit(length);
  }

  flush(): undefined {
    this.sender.sendNow();
    return undefined;
  }

  async close(): Promise<void> {
    this.sender.close();
  }
}

export const transport: TransportModule = {
  description:
    "ordinary UDP in sendmmsg batches, one socket per worker, per-host sources via IP_PKTINFO (native addon, no capability)",
  check,
  create: (options) => new UdpBatchTransport(options),
};
