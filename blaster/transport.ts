/**
 * How datagrams leave the blaster. A transport is small on purpose so that very different
 * senders plug in behind the same engine: one connected UDP socket per simulated host
 * (`socket`, the default, blaster/socket-transport.ts), or a raw socket with hand-built packets
 * and spoofed sources sent with sendmmsg (`raw`, blaster/raw/).
 *
 * Life cycle, per worker thread: `create` once, then for every batch
 * `prepare(hosts)` -> `send(...)` x N -> `flush()`, and `close()` at the end. The engine writes
 * payloads into one reusable slab, so a transport must not look at a payload after flush()
 * has settled, and must not keep a reference to it.
 */
import type { Counters } from "./counters.ts";

/** A numeric IP endpoint. IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are family 6. */
export interface Endpoint {
  address: string;
  port: number;
  family: 4 | 6;
}

/**
 * Where simulated host `i` sends from: the address `prefix + 1 + i` (so host 0 of
 * `127.0.0.0/8` is 127.0.0.1). `kind` says why this prefix was chosen.
 * - `ipv4-loopback`: 127.0.0.0/8, any address of which can be bound on Linux without privileges;
 * - `ipv4-mapped`: the same addresses as `::ffff:127.x.y.z`, towards a dual-stack IPv6 listener;
 * - `ipv6-prefix` / `ipv4-prefix`: a prefix the user gave with --sources (for IPv6 typically
 *   prepared with nonlocal bind in a network namespace);
 * - `shared`: no per-host address (remote target without a prefix): the system picks the source.
 */
export interface SourcePlan {
  kind: "ipv4-loopback" | "ipv4-mapped" | "ipv6-prefix" | "ipv4-prefix" | "shared";
  /** `ADDRESS/LENGTH`; absent for `shared`. */
  prefix?: string;
}

export interface TransportOptions {
  /** Where every datagram goes. */
  target: Endpoint;
  sources: SourcePlan;
  /** All simulated hosts of the run (global indices 0 .. hosts-1). */
  hosts: number;
  /** The most hosts this transport instance will ever see (its shard), for sizing tables. */
  shardHosts: number;
  /** Hosts that will actually send in this run (e.g. fewer than hosts when --count is small). */
  activeHosts: number;
  /** --allow-remote: the raw transports then spoof sources towards a non-loopback target too. */
  allowRemote?: boolean;
  /**
   * UDP GSO (UDP_SEGMENT): consecutive equal-size datagrams of one host leave as one send that
   * the kernel splits. "auto": where the transport offers it and the kernel supports it;
   * "on": required (a transport or kernel without it is an error); "off": never.
   * Transports that cannot segment ignore "auto". Default "auto".
   */
  gso?: GsoMode;
}

export type GsoMode = "auto" | "on" | "off";

/** The refusal of `--gso on` by a transport that cannot send with UDP GSO, or null. */
export function gsoRefusal(transport: string, options: TransportOptions): string | null {
  return options.gso === "on"
    ? `--gso on: --transport ${transport} cannot send with UDP GSO (--transport udp-batch can)`
    : null;
}

/** Counter names every transport keeps (more, such as `error.ENOBUFS`, may be added). */
export const TRANSPORT_COUNTERS = ["sent", "errors", "bytes", "opened"] as const;

export interface Transport {
  readonly name: string;
  /**
   * Makes hosts[0 .. count) ready to send (opens their sockets lazily). Returns undefined when
   * nothing had to be done, so the per-batch hot path allocates no promise.
   */
  prepare(hosts: Int32Array, count: number): Promise<void> | undefined;
  /**
   * Sends (or queues) one datagram from host `host`: bytes [offset, offset + length) of
   * `buffer`. Send errors (ENOBUFS, ECONNREFUSED...) are counted in `counters`, never thrown.
   */
  send(host: number, buffer: Buffer, offset: number, length: number): void;
  /**
   * Pushes out anything queued. Once the returned promise settles (or at once when it returns
   * undefined), every buffer handed to send() may be overwritten.
   */
  flush(): Promise<void> | undefined;
  close(): Promise<void>;
  /** Flat counters (see TRANSPORT_COUNTERS), merged across workers with blaster/counters.ts. */
  readonly counters: Counters;
}

export interface TransportModule {
  /** One line for --help and the README. */
  description: string;
  /**
   * Checked once in the main thread before any worker starts: returns a one-line message
   * saying why this run cannot work (file-descriptor limit, missing capability...), or null.
   */
  check(options: TransportOptions): string | null | Promise<string | null>;
  create(options: TransportOptions): Transport | Promise<Transport>;
}

/**
 * The transport factory: name -> module that exports `transport: TransportModule`. Modules are
 * imported lazily so a run never loads a native addon it does not use. This table is the
 * registry: worker threads load transports by name from it, so a new transport adds its line
 * here (a registration call at run time would not reach the workers).
 */
const TRANSPORTS: Record<string, { url: URL; description: string }> = {
  socket: {
    url: new URL("./socket-transport.ts", import.meta.url),
    description: "one connected UDP socket per host, bound to its own source address",
  },
  raw: {
    url: new URL("./raw/raw-transport.ts", import.meta.url),
    description: "hand-built datagrams from spoofed per-host sources, sendmmsg on a raw socket",
  },
  "udp-batch": {
    url: new URL("./udp-batch-transport.ts", import.meta.url),
    description: "ordinary UDP in sendmmsg batches, per-host sources via IP_PKTINFO",
  },
  auto: {
    url: new URL("./auto-transport.ts", import.meta.url),
    description: "raw where permitted (CAP_NET_RAW), else socket; says which it picked",
  },
};

export function transportNames(): string[] {
  return Object.keys(TRANSPORTS);
}

export function transportDescriptions(): Record<string, string> {
  return Object.fromEntries(Object.entries(TRANSPORTS).map(([k, v]) => [k, v.description]));
}

export async function loadTransport(name: string): Promise<TransportModule> {
  const entry = TRANSPORTS[name];
  if (!entry) {
    throw new Error(`unknown transport "${name}" (known: ${transportNames().join(", ")})`);
  }
  const mod = (await import(entry.url.href)) as { transport?: TransportModule };
  if (!mod.transport) throw new Error(`${entry.url.pathname} does not export "transport"`);
  return mod.transport;
}
