/**
 * `--transport raw`: hand-built IP + UDP datagrams with any source address (host i sends from
 * prefix + 1 + i, computed per packet, so a million hosts cost nothing per host), sent through
 * one raw socket per worker in sendmmsg batches. Needs the native addon and CAP_NET_RAW.
 */
import { gsoRefusal, type TransportModule, type TransportOptions } from "../transport.ts";
import { BatchedTransport, BatchSender, SEND_TIMEOUT_MS, SNDBUF_BYTES } from "./batched.ts";
import { errnoCode, loadNetRaw, type NetRaw, requireNetRaw } from "./native.ts";
import { DatagramBuilder } from "./packet.ts";
import { spoofingRefusal, type WirePlan, wirePlan } from "./plan.ts";

/** Opens the raw socket for a plan (connected, so the kernel routes once, not per datagram). */
function openRaw(addon: NetRaw, plan: WirePlan): number {
  return addon.open(
    plan.family === 6 ? "raw6" : "raw4",
    undefined,
    undefined,
    plan.destination,
    undefined,
    SNDBUF_BYTES,
    SEND_TIMEOUT_MS,
  );
}

/**
 * Why a raw run cannot work here (one line), or null. Also used by `auto` to decide, so it
 * tries to open a raw socket: that is the only reliable CAP_NET_RAW test (capabilities,
 * user namespaces and seccomp all play a part).
 */
export function rawRefusal(options: TransportOptions): string | null {
  const loaded = loadNetRaw();
  if ("error" in loaded) return `--transport raw needs ${loaded.error}`;
  let plan: WirePlan;
  try {
    plan = wirePlan(options);
  } catch (error) {
    return `--transport raw: ${(error as Error).message}`;
  }
  if (!plan.prefix) {
    return (
      "--transport raw sends from one address per host, but this run has none (--sources shared, " +
      "or a remote target without --sources): give --sources PREFIX, e.g. --sources 2001:db8:1::/64"
    );
  }
  const refusal = spoofingRefusal(plan.destination, options.allowRemote === true);
  if (refusal) return `--transport raw: ${refusal}`;
  try {
    loaded.addon.close(openRaw(loaded.addon, plan));
  } catch (error) {
    const code = errnoCode(error);
    if (code === "EPERM" || code === "EACCES") {
      return (
        `--transport raw needs CAP_NET_RAW to open a raw socket (${code}): run as root, or grant the ` +
        "capability to the pinned node (setcap cap_net_raw+ep node_modules/node/bin/node), or use " +
        "--transport socket or udp-batch"
      );
    }
    return `--transport raw cannot open a raw socket: ${(error as Error).message}`;
  }
  return null;
}

class RawTransport extends BatchedTransport {
  readonly name = "raw";
  private readonly builder: DatagramBuilder;

  constructor(options: TransportOptions) {
    const addon = requireNetRaw("--transport raw");
    const plan = wirePlan(options);
    if (!plan.prefix) throw new Error("--transport raw needs a source prefix (--sources PREFIX)");
    const builder = new DatagramBuilder({
      prefix: plan.prefix,
      destination: plan.destination,
      destinationPort: plan.port,
    });
    super(new BatchSender(addon, openRaw(addon, plan), { overheadBytes: builder.headerBytes }));
    this.builder = builder;
  }

  send(host: number, buffer: Buffer, offset: number, length: number): void {
    if (!this.sender.room(this.builder.sizeFor(length))) return;
    const batch = this.sender.batch;
    batch.commit(
      this.builder.write(batch.buffer, batch.used, host, buffer, offset, offset + length),
    );
  }
}

export const transport: TransportModule = {
  description:
    "hand-built IP+UDP datagrams from per-host spoofed sources (--sources PREFIX), sendmmsg batches on a raw socket (CAP_NET_RAW, native addon)",
  check: (options) => gsoRefusal("raw", options) ?? rawRefusal(options),
  create: (options) => new RawTransport(options),
};
