/**
 * Kernel-side drops for the receiver's own sockets. netconsd counts no drops at all; the kernel
 * does, in two places:
 * - /proc/net/udp and /proc/net/udp6: one line per socket, whose last column `drops` is the
 *   socket's sk_drops (datagrams refused because its receive buffer was full, among others);
 *   we sum it over the sockets bound to our port (sockets that appear during the run start at 0,
 *   so the end sample alone is exact for them);
 * - /proc/net/snmp `Udp: RcvbufErrors` and /proc/net/snmp6 `Udp6RcvbufErrors`: system-wide (for
 *   the network namespace), so their delta may include other programs' sockets.
 * The parsers are pure (text in, numbers out) and tested on fixture text; only sampleKernel()
 * reads files.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";

export interface UdpSocketLine {
  /** The local address as /proc prints it (hex, 32-bit words in host byte order). */
  localAddressHex: string;
  localPort: number;
  /** 0 for an unconnected socket. */
  remotePort: number;
  /** Bytes waiting in the receive queue. */
  rxQueueBytes: number;
  inode: number;
  drops: number;
}

/**
 * Parses /proc/net/udp or /proc/net/udp6 text; lines that do not parse are skipped. With `port`,
 * only lines whose local address ends in that port are parsed (the tables can be large).
 */
export function parseProcNetUdp(text: string, port?: number): UdpSocketLine[] {
  const out: UdpSocketLine[] = [];
  const needle =
    port === undefined ? null : `:${port.toString(16).toUpperCase().padStart(4, "0")} `;
  for (const line of text.split("\n")) {
    if (needle !== null && !line.includes(needle)) continue;
    const f = line.trim().split(/\s+/);
    if (f.length < 13 || !f[0].endsWith(":")) continue; // header or blank
    const local = f[1];
    const colon = local.lastIndexOf(":");
    const queues = f[4].split(":");
    const localPort = Number.parseInt(local.slice(colon + 1), 16);
    const remote = f[2];
    const remotePort = Number.parseInt(remote.slice(remote.lastIndexOf(":") + 1), 16);
    const rxQueueBytes = Number.parseInt(queues[1] ?? "", 16);
    const inode = Number(f[9]);
    const drops = Number(f[12]);
    if (colon < 0 || ![localPort, remotePort, rxQueueBytes, inode, drops].every(Number.isFinite)) {
      continue;
    }
    out.push({
      localAddressHex: local.slice(0, colon),
      localPort,
      remotePort,
      rxQueueBytes,
      inode,
      drops,
    });
  }
  return out;
}

/** `Udp: RcvbufErrors` (and the rest of the Udp row) from /proc/net/snmp text. */
export function parseSnmpUdp(text: string): Record<string, number> {
  const lines = text.split("\n").filter((l) => l.startsWith("Udp: "));
  if (lines.length < 2) return {};
  const names = lines[0].slice(5).trim().split(/\s+/);
  const values = lines[1].slice(5).trim().split(/\s+/);
  const out: Record<string, number> = {};
  names.forEach((name, i) => {
    const v = Number(values[i]);
    if (Number.isFinite(v)) out[name] = v;
  });
  return out;
}

/** The `Udp6*` rows of /proc/net/snmp6 text, names without the `Udp6` prefix. */
export function parseSnmp6Udp(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^Udp6(\w+)\s+(\d+)\s*$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

export interface KernelSample {
  /** Sum of the `drops` column over sockets bound to the port (IPv4 and IPv6 tables). */
  socketDrops: number;
  /** How many sockets were bound to the port. */
  sockets: number;
  /** Bytes waiting in those sockets' receive queues. */
  rxQueueBytes: number;
  /** Udp RcvbufErrors + Udp6RcvbufErrors, system-wide. */
  rcvbufErrors: number;
  /** Whether the files could be read (false on a system without /proc). */
  available: boolean;
}

function readOr(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** Pure: one sample from the four files' text (null = file missing). */
export function kernelSampleFrom(
  port: number,
  udp: string | null,
  udp6: string | null,
  snmp: string | null,
  snmp6: string | null,
): KernelSample {
  let socketDrops = 0;
  let sockets = 0;
  let rxQueueBytes = 0;
  for (const text of [udp, udp6]) {
    if (text === null) continue;
    for (const s of parseProcNetUdp(text, port)) {
      if (s.localPort !== port) continue;
      sockets++;
      socketDrops += s.drops;
      rxQueueBytes += s.rxQueueBytes;
    }
  }
  const rcvbufErrors =
    (snmp === null ? 0 : (parseSnmpUdp(snmp).RcvbufErrors ?? 0)) +
    (snmp6 === null ? 0 : (parseSnmp6Udp(snmp6).RcvbufErrors ?? 0));
  const available = udp !== null || udp6 !== null;
  return { socketDrops, sockets, rxQueueBytes, rcvbufErrors, available };
}

/**
 * Reads the kernel's counters for sockets bound to `port`. Reading a /proc/net/udp table walks
 * the kernel's whole UDP hash table (milliseconds), so only the family in use is read: an IPv6
 * socket (dual-stack ones included) is listed in udp6 only.
 */
export function sampleKernel(port: number, family: 4 | 6 | "both" = "both"): KernelSample {
  return kernelSampleFrom(
    port,
    family === 6 ? null : readOr("/proc/net/udp"),
    family === 4 ? null : readOr("/proc/net/udp6"),
    readOr("/proc/net/snmp"),
    readOr("/proc/net/snmp6"),
  );
}

export interface KernelDrops {
  /** Datagrams our sockets dropped (per-socket `drops`, end minus start). */
  socketDrops: number;
  /** System-wide RcvbufErrors delta (may include other programs). */
  rcvbufErrorsSystem: number;
  available: boolean;
}

export function kernelDelta(start: KernelSample, end: KernelSample): KernelDrops {
  return {
    socketDrops: Math.max(0, end.socketDrops - start.socketDrops),
    rcvbufErrorsSystem: Math.max(0, end.rcvbufErrors - start.rcvbufErrors),
    available: start.available && end.available,
  };
}

/**
 * An address in /proc/net/udp{,6} form: the bytes in 32-bit words, each printed as a host-order
 * (little-endian here) hex number. 127.0.0.1 -> 0100007F; ::1 -> 00000000000000000000000001000000.
 */
export function procAddressHex(address: string): string {
  const bytes = isIP(address) === 4 ? address.split(".").map(Number) : ipv6Bytes(address);
  let out = "";
  for (let i = 0; i < bytes.length; i += 4) {
    for (let j = 3; j >= 0; j--) out += bytes[i + j].toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

function ipv6Bytes(address: string): number[] {
  const [head, tail = ""] = address.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  let h = groups(head);
  let t = address.includes("::") ? groups(tail) : [];
  const last = (t.length ? t : h).at(-1) ?? "";
  const v4 = last.includes(".") ? last.split(".").map(Number) : null;
  if (v4) {
    const words = [((v4[0] << 8) | v4[1]).toString(16), ((v4[2] << 8) | v4[3]).toString(16)];
    if (t.length) t = [...t.slice(0, -1), ...words];
    else h = [...h.slice(0, -1), ...words];
  }
  const fill = Array(8 - h.length - t.length).fill("0");
  const all = [...h, ...fill, ...t];
  return all.flatMap((g) => {
    const v = Number.parseInt(g || "0", 16);
    return [v >> 8, v & 255];
  });
}

/**
 * Unconnected sockets on `port` that can receive datagrams addressed to `bind`: bound to that
 * very address or to a wildcard. (Senders bound to other addresses that happen to use the same
 * port number are not counted.)
 */
export function receivingSockets(port: number, bind: string): number {
  const wanted = new Set([procAddressHex(bind), "00000000", "0".repeat(32)]);
  let n = 0;
  for (const path of ["/proc/net/udp", "/proc/net/udp6"]) {
    const text = readOr(path);
    if (text === null) continue;
    for (const s of parseProcNetUdp(text, port)) {
      if (s.remotePort === 0 && wanted.has(s.localAddressHex)) n++;
    }
  }
  return n;
}
