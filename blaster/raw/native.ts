/**
 * Loads the optional native addon (blaster/native/netraw.c) and says exactly what is missing when
 * it is not there, so `--transport raw` / `udp-batch` fail with advice instead of a stack trace.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export type SocketKind = "raw6" | "raw4" | "udp6" | "udp4";

/** The addon's functions (see the comment at the top of netraw.c). */
export interface NetRaw {
  open(
    kind: SocketKind,
    bindAddress?: string,
    bindPort?: number,
    connectAddress?: string,
    connectPort?: number,
    sndbufBytes?: number,
    sendTimeoutMs?: number,
  ): number;
  /** result[0] sent, result[1] failed, result[2] last errno, result[3] bytes sent; returns sent. */
  sendBatch(
    fd: number,
    buffer: Buffer,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    result: Int32Array,
    destAddress?: string,
    destPort?: number,
    sources?: Buffer,
    /** Per entry: the UDP GSO segment size (0 = one plain datagram); counts are datagrams. */
    segments?: Uint16Array,
  ): number;
  /** Whether the kernel offers UDP GSO (UDP_SEGMENT) on this UDP socket. */
  udpSegmentSupported(fd: number): boolean;
  close(fd: number): void;
  /** A dual-stack (IPv6) or IPv4 UDP socket with SO_REUSEPORT, optional SO_RCVBUF, bound. */
  openListener(bindAddress: string, port: number, rcvbufBytes: number): number;
  socketInfo(fd: number): { address: string; port: number; rcvbufBytes: number };
  /**
   * One recvmmsg of up to maxMsgs datagrams into slots of buffer.length / maxMsgs bytes, waiting
   * up to timeoutMs when none is queued; returns the count (0 on timeout) or -errno. meta layout:
   * RECV_META_INTS int32s per datagram (see netraw.c).
   */
  recvBatch(
    fd: number,
    buffer: Buffer,
    meta: Int32Array,
    maxMsgs: number,
    timeoutMs: number,
  ): number;
}

/** Int32s per datagram in recvBatch's meta: [0] length, [1] port, [2] truncated, [3] address
 * text length, [4..7] 16-byte address, [8..23] address text (byte offset 32). */
export const RECV_META_INTS = 24;
export const RECV_MAX = 256;

export const ADDON_PATH = fileURLToPath(
  new URL("../native/build/Release/netraw.node", import.meta.url),
);

let cached: { addon: NetRaw } | { error: string } | undefined;

/** The addon, or a one-paragraph explanation of why it is unavailable and how to get it. */
export function loadNetRaw(): { addon: NetRaw } | { error: string } {
  if (cached) return cached;
  if (!existsSync(ADDON_PATH)) {
    cached = {
      error:
        `the native addon ${ADDON_PATH}, which is not built: it is compiled during \`npm ci\` where a C ` +
        "compiler, make, python3 and Node's headers exist (Debian: apt-get install build-essential " +
        "python3 libnode-dev); with those installed, `node blaster/native/install.mjs` builds it (or says why it cannot)",
    };
    return cached;
  }
  try {
    const addon = createRequire(import.meta.url)(ADDON_PATH) as NetRaw;
    cached = { addon };
  } catch (error) {
    cached = {
      error: `the native addon ${ADDON_PATH}, which failed to load (${(error as Error).message}); rebuild it with \`node blaster/native/install.mjs\``,
    };
  }
  return cached;
}

/** The addon, or throws an Error carrying the explanation. */
export function requireNetRaw(what: string): NetRaw {
  const loaded = loadNetRaw();
  if ("error" in loaded) throw new Error(`${what} needs ${loaded.error}`);
  return loaded.addon;
}

/** The errno name of an error thrown by open() (EPERM, EACCES...), or undefined. */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" ? code : undefined;
}
