/**
 * `--transport socket`: one UDP socket per simulated host, bound to the host's own source
 * address and connected to the target. A connected socket is much faster to send on than an
 * unconnected one (no per-datagram route lookup and address conversion in Node and the kernel),
 * and the bound address is what netconsd keys its per-host state on.
 *
 * Sockets open lazily, the first time a host sends, so a run with --count smaller than --hosts
 * opens only the sockets it uses.
 */

import { createSocket, type Socket } from "node:dgram";
import { readdirSync, readFileSync } from "node:fs";
import { type Counters, zeroCounters } from "./counters.ts";
import { sourceAddress } from "./sources.ts";
import {
  gsoRefusal,
  TRANSPORT_COUNTERS,
  type Transport,
  type TransportModule,
  type TransportOptions,
} from "./transport.ts";

/** File descriptors kept free for everything else a process opens (workers, files, stdio). */
const FD_RESERVE = 64;

/** The soft and hard open-file limits of this process, from /proc (Node has no getrlimit). */
export function openFileLimits(): { soft: number; hard: number } | null {
  try {
    const text = readFileSync("/proc/self/limits", "utf8");
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
    if (!m) return null;
    const parse = (v: string) => (v === "unlimited" ? Number.POSITIVE_INFINITY : Number(v));
    return { soft: parse(m[1]), hard: parse(m[2]) };
  } catch {
    return null;
  }
}

function openFileCount(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return 0;
  }
}

/** How many more sockets this process can open, or Infinity when unknown. */
export function socketBudget(): number {
  const limits = openFileLimits();
  if (!limits) return Number.POSITIVE_INFINITY;
  return Math.max(0, limits.soft - openFileCount() - FD_RESERVE);
}

async function check(options: TransportOptions): Promise<string | null> {
  const gso = gsoRefusal("socket", options);
  if (gso) return gso;
  const needed = options.activeHosts;
  const budget = socketBudget();
  if (needed > budget) {
    const limits = openFileLimits();
    return (
      `--transport socket needs one socket per sending host (${needed}), but the open-file limit ` +
      `(ulimit -n: soft ${limits?.soft}, hard ${limits?.hard}) leaves room for about ${budget}. ` +
      `Use --hosts ${budget} or fewer, raise the limit (ulimit -n ${needed + 1024}; above the hard ` +
      `limit needs root or /etc/security/limits.conf), or use --transport raw`
    );
  }
  return unbindablePrefix(options);
}

/** The error code of binding a UDP socket to `address` (port 0), or null when it binds. */
function bindError(address: string, family: 4 | 6): Promise<string | null> {
  const socket = createSocket({ type: family === 4 ? "udp4" : "udp6" });
  return new Promise((resolve) => {
    socket.once("error", (error: NodeJS.ErrnoException) => {
      socket.close();
      resolve(error.code ?? error.message);
    });
    socket.bind({ address, port: 0, exclusive: true }, () => socket.close(() => resolve(null)));
  });
}

/**
 * A --sources prefix whose addresses this machine does not have (the usual case: an IPv6
 * documentation prefix, picked because the raw transport spoofs it, when `auto` fell back to
 * sockets): every host's bind would fail with EADDRNOTAVAIL. Found before the run by binding
 * the first and the last sending host's address, and said in one line with what to do.
 * (127.0.0.0/8 and its IPv4-mapped form are always bindable on Linux.)
 */
async function unbindablePrefix(options: TransportOptions): Promise<string | null> {
  const { sources, target } = options;
  if (sources.kind !== "ipv6-prefix" && sources.kind !== "ipv4-prefix") return null;
  for (const host of new Set([0, Math.max(0, options.activeHosts - 1)])) {
    const address = sourceAddress(sources, host);
    if (address === null || (await bindError(address, target.family)) !== "EADDRNOTAVAIL") {
      continue;
    }
    const v6 = sources.kind === "ipv6-prefix";
    const fixes = v6
      ? "allow binding addresses that are not assigned (sysctl -w net.ipv6.ip_nonlocal_bind=1, " +
        "best inside a network namespace), or use --transport udp-batch (sends from them with " +
        "IPV6_FREEBIND, no privileges needed)"
      : `make the prefix local (ip route add local ${sources.prefix} dev lo) or allow binding ` +
        "addresses that are not assigned (sysctl -w net.ipv4.ip_nonlocal_bind=1), best inside " +
        "a network namespace";
    return (
      `--transport socket binds every host to its own address of --sources ${sources.prefix}, ` +
      `but host ${host}'s ${address} is not assigned on this machine (EADDRNOTAVAIL): ${fixes}, ` +
      "or run as root with --transport raw (spoofed sources need no addresses)"
    );
  }
  return null;
}

class SocketTransport implements Transport {
  readonly name = "socket";
  readonly counters: Counters = zeroCounters([...TRANSPORT_COUNTERS, "icmpErrors"]);
  private readonly sockets: (Socket | undefined)[] = [];
  private readonly opening = new Map<number, Promise<void>>();
  private inflight = 0;
  private waiter: (() => void) | null = null;
  private readonly options: TransportOptions;

  constructor(options: TransportOptions) {
    this.options = options;
  }

  /** One shared completion callback: no closure per datagram. */
  private readonly onSent = (error: Error | null, bytes?: number): void => {
    if (error) {
      this.counters.errors++;
      const key = `error.${(error as NodeJS.ErrnoException).code ?? "unknown"}`;
      this.counters[key] = (this.counters[key] ?? 0) + 1;
    } else {
      this.counters.sent++;
      this.counters.bytes += bytes ?? 0;
    }
    if (--this.inflight === 0 && this.waiter) {
      const wake = this.waiter;
      this.waiter = null;
      wake();
    }
  };

  /**
   * An ICMP error (port unreachable while nothing listens yet) surfaces on a connected socket as
   * an asynchronous 'error' event; it is counted, never fatal. The datagram that caused it was
   * sent and counted already; the next send on that socket fails and is counted as an error.
   */
  private readonly onSocketError = (): void => {
    this.counters.icmpErrors++;
  };

  prepare(hosts: Int32Array, count: number): Promise<void> | undefined {
    let pending: Promise<void>[] | undefined;
    for (let i = 0; i < count; i++) {
      const host = hosts[i];
      if (this.sockets[host] !== undefined) continue;
      let opening = this.opening.get(host);
      if (!opening) {
        opening = this.open(host);
        this.opening.set(host, opening);
      }
      if (!pending) pending = [];
      pending.push(opening);
    }
    return pending ? Promise.all(pending).then(() => undefined) : undefined;
  }

  private async open(host: number): Promise<void> {
    const { target, sources } = this.options;
    const socket = createSocket({ type: target.family === 4 ? "udp4" : "udp6" });
    socket.on("error", this.onSocketError);
    const address = sourceAddress(sources, host);
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => reject(error);
      socket.once("error", fail);
      const connect = () =>
        socket.connect(target.port, target.address, () => {
          socket.off("error", fail);
          resolve();
        });
      if (address === null) connect();
      else socket.bind({ address, port: 0, exclusive: true }, connect);
    }).catch((error: NodeJS.ErrnoException) => {
      socket.close();
      this.opening.delete(host);
      const hint =
        error.code === "EADDRNOTAVAIL" && sources.kind.endsWith("-prefix")
          ? ` (the addresses of --sources ${sources.prefix} must be assigned here, or bindable with net.ipv6.ip_nonlocal_bind=1 / net.ipv4.ip_nonlocal_bind=1 in a network namespace)`
          : "";
      throw new Error(
        `cannot open the socket of host ${host} (source ${address ?? "any"}): ${error.code ?? error.message}${hint}`,
      );
    });
    this.sockets[host] = socket;
    this.opening.delete(host);
    this.counters.opened++;
  }

  send(host: number, buffer: Buffer, offset: number, length: number): void {
    this.inflight++;
    // A view is a little cheaper than dgram's own (buffer, offset, length) slicing.
    const bytes =
      offset === 0 && length === buffer.length ? buffer : buffer.subarray(offset, offset + length);
    this.sockets[host]!.send(bytes, this.onSent);
  }

  flush(): Promise<void> | undefined {
    if (this.inflight === 0) return undefined;
    return new Promise<void>((resolve) => {
      this.waiter = resolve;
    });
  }

  async close(): Promise<void> {
    await this.flush();
    await Promise.allSettled([...this.opening.values()]);
    const closing: Promise<void>[] = [];
    for (const socket of this.sockets) {
      if (socket) closing.push(new Promise<void>((resolve) => socket.close(() => resolve())));
    }
    await Promise.all(closing);
    this.sockets.length = 0;
  }
}

export const transport: TransportModule = {
  description: "one connected UDP socket per host, bound to its own source address",
  check,
  create: (options) => new SocketTransport(options),
};
