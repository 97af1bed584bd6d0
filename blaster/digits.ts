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

export function writeDecimal(buf: Buffer, at: number, n: number): number {
  const len = decimalLength(n);
  let i = at + len - 1;
  // Digits below 10^8 with 32-bit integer arithmetic (float division is the slow part here);
  // seqs and microsecond timestamps are mostly larger than 2^31.
  if (n >= 1e8) {
    const hi = Math.floor(n / 1e8);
    let lo = n - hi * 1e8;
    for (let k = 0; k < 8; k++) {
      const q = (lo / 10) | 0;
      buf[i--] = 0x30 + lo - q * 10;
      lo = q;
    }
    n = hi;
  }
  do {
    const q = (n / 10) | 0;
    buf[i--] = 0x30 + n - q * 10;
    n = q;
  } while (n > 0);
  return at + len;
}
