/**
 * Decimal digits written straight into a byte buffer (no strings): the lengths and digits of
 * the seqs, timestamps and ids in a message header.
 */

/** 10^i for i = 0..16 (every safe integer has at most 16 digits). */
const POW10 = Array.from({ length: 17 }, (_, i) => 10 ** i);

/** Digits of a non-negative safe integer. */
export function decimalLength(n: number): number {
  // Seqs and timestamps mostly have 9+ digits: start the search there.
  let len = n >= 1e8 ? 9 : 1;
  while (len < 16 && n >= POW10[len]) len++;
  return len;
}

/** The two ASCII digits of 0..99, as bytes: pair k at [2k, 2k + 1]. */
const PAIRS = Uint8Array.from({ length: 200 }, (_, i) =>
  i % 2 === 0 ? 0x30 + Math.floor(i / 20) : 0x30 + (((i - 1) / 2) % 10),
);

/** Writes n's decimal digits at `at`; returns the position after them. */
export function writeDecimal(buf: Uint8Array, at: number, n: number): number {
  const len = decimalLength(n);
  let i = at + len - 1;
  // Digits below 10^8 with 32-bit integer arithmetic (float division is the slow part here),
  // two at a time; seqs and microsecond timestamps are mostly larger than 2^31.
  if (n >= 1e8) {
    const hi = Math.floor(n / 1e8);
    let lo = n - hi * 1e8;
    for (let k = 0; k < 4; k++) {
      const q = (lo / 100) | 0;
      const p = (lo - q * 100) << 1;
      buf[i--] = PAIRS[p + 1];
      buf[i--] = PAIRS[p];
      lo = q;
    }
    n = hi;
  }
  while (n >= 100) {
    const q = (n / 100) | 0;
    const p = (n - q * 100) << 1;
    buf[i--] = PAIRS[p + 1];
    buf[i--] = PAIRS[p];
    n = q;
  }
  if (n >= 10) {
    buf[i--] = PAIRS[(n << 1) + 1];
    buf[i] = PAIRS[n << 1];
  } else {
    buf[i] = 0x30 + n;
  }
  return at + len;
}
