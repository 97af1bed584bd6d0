/**
 * Source-address plans for spoofed hosts: host i of a prefix gets the address prefix + 1 + i,
 * computed when its packet is built, so a million hosts cost no memory at all here. The first
 * address of the prefix (the IPv6 subnet-router anycast, or the IPv4 network address) is never
 * used, and neither is the IPv4 broadcast address.
 */
import { isIPv4, isIPv6 } from "node:net";

export interface SourcePrefix {
  family: 4 | 6;
  /** Network address bytes (4 or 16), host bits cleared. */
  bytes: Uint8Array;
  length: number;
  /** How many host addresses the prefix offers (may exceed 2^53 for IPv6: capped there). */
  capacity: number;
  /** The prefix as given, normalised (`2001:db8:1::/64`). */
  text: string;
}

/** Parses a textual IPv4 or IPv6 address into bytes, or returns null. */
export function parseAddress(text: string): Uint8Array | null {
  if (isIPv4(text)) return Uint8Array.from(text.split(".").map(Number));
  if (!isIPv6(text)) return null;
  let s = text;
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = dotted[1].split(".").map(Number);
    s = `${s.slice(0, dotted.index)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [
    ...headGroups,
    ...new Array(tail === undefined ? 0 : missing).fill("0"),
    ...tailGroups,
  ];
  if (groups.length !== 8) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** Formats 4 or 16 address bytes as text (IPv6 compressed the usual way, via URL's normaliser). */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  // URL normalises IPv6 hosts to the RFC 5952 form, which is what tcpdump and Node print.
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}

/** Parses `ADDRESS/LENGTH`; throws an Error saying the expected form on bad input. */
export function parsePrefix(text: string): SourcePrefix {
  const m = /^\s*([^/\s]+)\/(\d{1,3})\s*$/.exec(text);
  const bytes = m ? parseAddress(m[1]) : null;
  if (!m || !bytes) {
    throw new Error(
      `expected ADDRESS/LENGTH such as 2001:db8:1::/64 or 198.18.0.0/15, got "${text}"`,
    );
  }
  const length = Number(m[2]);
  const bits = bytes.length * 8;
  if (length > bits - 2) {
    throw new Error(
      `prefix length must be at most ${bits - 2} for ${bits === 32 ? "IPv4" : "IPv6"}, got ${length}`,
    );
  }
  for (let bit = length; bit < bits; bit++) bytes[bit >> 3] &= ~(0x80 >> (bit & 7));
  const hostBits = bits - length;
  // Minus the network address (and, for IPv4, the broadcast address).
  const capacity = Math.min(2 ** hostBits, 2 ** 53) - (bits === 32 ? 2 : 1);
  return {
    family: bits === 32 ? 4 : 6,
    bytes,
    length,
    capacity,
    text: `${formatAddress(bytes)}/${length}`,
  };
}

/** Throws when `hosts` addresses do not fit the prefix. */
export function checkCapacity(prefix: SourcePrefix, hosts: number): void {
  if (hosts > prefix.capacity) {
    throw new Error(
      `${prefix.text} holds ${prefix.capacity} host addresses, fewer than --hosts ${hosts}; use a shorter prefix`,
    );
  }
}

/**
 * Writes host `index`'s address (prefix + 1 + index) into `out` at `offset`. Only the last
 * eight bytes (IPv6) or four (IPv4) can carry host bits, since index < 2^53; the rest is the
 * prefix, written by the caller once per template.
 */
export function writeHostAddress(
  prefix: SourcePrefix,
  index: number,
  out: Uint8Array,
  offset: number,
): void {
  const n = index + 1;
  const lo = n % 0x1_0000_0000;
  const b = prefix.bytes;
  if (prefix.family === 4) {
    writeU32Or(out, offset, b, 0, lo);
    return;
  }
  out.set(b.subarray(0, 8), offset);
  writeU32Or(out, offset + 8, b, 8, Math.floor(n / 0x1_0000_0000));
  writeU32Or(out, offset + 12, b, 12, lo);
}

function writeU32Or(
  out: Uint8Array,
  at: number,
  prefix: Uint8Array,
  from: number,
  value: number,
): void {
  out[at] = prefix[from] | (value >>> 24);
  out[at + 1] = prefix[from + 1] | ((value >>> 16) & 0xff);
  out[at + 2] = prefix[from + 2] | ((value >>> 8) & 0xff);
  out[at + 3] = prefix[from + 3] | (value & 0xff);
}

/** Host `index`'s address as text (for reports, truth files and tests; not the hot path). */
export function hostAddress(prefix: SourcePrefix, index: number): string {
  const out = new Uint8Array(prefix.bytes.length);
  writeHostAddress(prefix, index, out, 0);
  return formatAddress(out);
}

/** Whether an address is loopback: 127.0.0.0/8, ::1, or IPv4-mapped 127/8. */
export function isLoopback(text: string): boolean {
  const b = parseAddress(text);
  if (!b) return false;
  if (b.length === 4) return b[0] === 127;
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (mapped) return b[12] === 127;
  return b.subarray(0, 15).every((x) => x === 0) && b[15] === 1;
}
