/**
 * The latency stamp: a compact tag the blaster puts at the start of each message's text so a
 * receiver can measure latency from the *intended* send time (free of coordinated omission).
 *
 * Form: `ncb1:<host>:<intendedUs>` followed by one space, where <host> is the simulated host's
 * index and <intendedUs> the intended send time in microseconds of CLOCK_MONOTONIC, both in
 * lower-case base 36. Example: `ncb1:2s:1f4kq9x0a text...`. It is plain printable ASCII, so it
 * needs no kernel escaping and reads the same in extended and legacy payloads; it is placed
 * after a legacy line's `[ secs.usecs]` prefix.
 *
 * CLOCK_MONOTONIC is shared by every process on one machine, so blaster and receiver on the same
 * host (the loopback case) agree on it without any clock synchronisation.
 */

const PREFIX = "ncb1:";

/** Microseconds of CLOCK_MONOTONIC (the same clock in every thread and process of the machine). */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** The stamp text, including its trailing space. */
export function formatStamp(host: number, intendedUs: number): string {
  return `${PREFIX}${host.toString(36)}:${Math.floor(intendedUs).toString(36)} `;
}

export interface Stamp {
  host: number;
  intendedUs: number;
}

const COLON = 0x3a;
const SPACE = 0x20;

/** Digit value of an ASCII byte in base 36, or -1. */
function base36Digit(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x7a) return byte - 0x61 + 10;
  return -1;
}

/** The host index and intended time of the last stamp stampAt() found (no object per parse). */
export const foundStamp: Stamp = { host: 0, intendedUs: 0 };

/**
 * Finds a stamp in bytes[start, end) starting at `start` (or anywhere in the first
 * `searchWindow` bytes after it, for legacy lines with a time prefix). Returns whether there is
 * one; its host index and intended send time (µs) are left in foundStamp. Works on bytes and
 * allocates nothing (not even a boxed number), for the receiver's per-datagram path.
 */
export function stampAt(bytes: Uint8Array, start: number, end: number, searchWindow = 0): boolean {
  const limit = Math.min(end - PREFIX.length, start + searchWindow);
  for (let at = start; at <= limit; at++) {
    if (
      bytes[at] === 0x6e && // n
      bytes[at + 1] === 0x63 && // c
      bytes[at + 2] === 0x62 && // b
      bytes[at + 3] === 0x31 && // 1
      bytes[at + 4] === COLON
    ) {
      return parseStampBody(bytes, at + PREFIX.length, end);
    }
  }
  return false;
}

/** stampAt() over a whole byte array, as an object: null when there is no stamp. */
export function parseStamp(bytes: Uint8Array, start = 0, searchWindow = 0): Stamp | null {
  if (!stampAt(bytes, start, bytes.length, searchWindow)) return null;
  return { host: foundStamp.host, intendedUs: foundStamp.intendedUs };
}

function parseStampBody(bytes: Uint8Array, from: number, end: number): boolean {
  let host = 0;
  let i = from;
  let digits = 0;
  for (; i < end && bytes[i] !== COLON; i++, digits++) {
    const d = base36Digit(bytes[i]);
    if (d < 0 || digits > 10) return false;
    host = host * 36 + d;
  }
  if (digits === 0 || i >= end) return false;
  i++;
  let intendedUs = 0;
  digits = 0;
  for (; i < end && bytes[i] !== SPACE; i++, digits++) {
    const d = base36Digit(bytes[i]);
    if (d < 0 || digits > 12) return false;
    intendedUs = intendedUs * 36 + d;
  }
  if (digits === 0) return false;
  foundStamp.host = host;
  foundStamp.intendedUs = intendedUs;
  return true;
}

// The byte-level writer (the blaster's hot path writes stamps in place, no strings).

const POW36 = Array.from({ length: 11 }, (_, i) => 36 ** i);

/** Base-36 digits of a non-negative safe integer. */
function base36Length(n: number): number {
  let len = n >= POW36[5] ? 6 : 1;
  while (len < 10 && n >= POW36[len]) len++;
  return len;
}

function writeBase36(buf: Uint8Array, at: number, n: number): number {
  const len = base36Length(n);
  let i = at + len - 1;
  // The low 5 digits (36^5 < 2^31) with integer arithmetic (float division is the slow part).
  if (n >= POW36[5]) {
    const hi = Math.floor(n / POW36[5]);
    let lo = n - hi * POW36[5];
    for (let k = 0; k < 5; k++) {
      const q = (lo / 36) | 0;
      const d = lo - q * 36;
      buf[i--] = d < 10 ? 0x30 + d : 0x57 + d;
      lo = q;
    }
    n = hi;
  }
  do {
    const q = (n / 36) | 0;
    const d = n - q * 36;
    buf[i--] = d < 10 ? 0x30 + d : 0x57 + d;
    n = q;
  } while (n > 0);
  return at + len;
}

/** Bytes of the stamp formatStamp(host, intendedUs) gives, trailing space included. */
export function stampLength(host: number, intendedUs: number): number {
  return PREFIX.length + base36Length(host) + 1 + base36Length(Math.floor(intendedUs)) + 1;
}

/** Writes formatStamp(host, intendedUs)'s bytes at `at`; returns the position after them. */
export function writeStamp(buf: Uint8Array, at: number, host: number, intendedUs: number): number {
  for (let k = 0; k < PREFIX.length; k++) buf[at + k] = PREFIX.charCodeAt(k);
  let i = writeBase36(buf, at + PREFIX.length, host);
  buf[i++] = COLON;
  i = writeBase36(buf, i, Math.floor(intendedUs));
  buf[i++] = SPACE;
  return i;
}
