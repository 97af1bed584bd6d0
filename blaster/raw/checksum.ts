/**
 * The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit
 * big-endian words. Sums are kept as plain numbers (exact up to 2^53, i.e. far beyond any
 * datagram) and folded only at the end, so partial sums of fixed header parts can be computed
 * once and added per packet (RFC 1624 style incremental use).
 */

/**
 * Adds the 16-bit big-endian words of bytes[start, end) to `sum` and returns the new unfolded
 * sum. An odd final byte counts as the high byte of a word padded with zero. `start` must be
 * even relative to the checksummed region for the words to line up, as it is for every header
 * and payload here.
 */
export function sumWords(bytes: Uint8Array, start: number, end: number, sum = 0): number {
  let i = start;
  const last = end - 1;
  // Eight bytes per step: fewer loop checks on the hot path, still no allocation.
  for (; i + 7 < end; i += 8) {
    sum +=
      ((bytes[i] << 8) | bytes[i + 1]) +
      ((bytes[i + 2] << 8) | bytes[i + 3]) +
      ((bytes[i + 4] << 8) | bytes[i + 5]) +
      ((bytes[i + 6] << 8) | bytes[i + 7]);
  }
  for (; i < last; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i === last) sum += bytes[i] << 8;
  return sum;
}

/** Folds a sum into 16 bits with end-around carries (the ones' complement sum). */
export function fold(sum: number): number {
  // The sum may exceed 32 bits, so fold with division rather than 32-bit shifts.
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value for a sum: ~fold(sum). */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/**
 * The UDP checksum field for a sum: like finish(), but a computed 0 goes out as 0xFFFF, since 0
 * means "no checksum" (and IPv6 receivers drop such datagrams: netconsblaster's 1-in-65,536 bug).
 */
export function finishUdp(sum: number): number {
  const c = finish(sum);
  return c === 0 ? 0xffff : c;
}

/** The checksum of a byte range (RFC 1071); verifying a region that contains its checksum gives 0. */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return finish(sumWords(bytes, start, end));
}
