/**
 * Seeded, counter-based randomness: every decision is a hash of (seed, host, index, purpose),
 * not a draw from a shared generator. So a host's content and impairments are the same whatever
 * the number of workers, the interleaving of hosts or the pacing, and no generator state has to
 * be stored per host (which keeps a million hosts small).
 */

/** murmur3's finaliser: a good 32-bit avalanche. */
function fmix(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of (seed, a, b, salt); a and b may be any non-negative safe integers. */
export function hash32(seed: number, a: number, b: number, salt: number): number {
  let h = fmix(seed ^ Math.imul(salt + 1, 0x9e3779b9));
  h = fmix(h ^ (a >>> 0));
  // The high words take a round only when they are not zero (rare: indices above 2^32), which
  // keeps the per-message hash to three rounds.
  if (a >= 0x1_0000_0000) h = fmix(h ^ Math.floor(a / 0x1_0000_0000));
  h = fmix(h ^ (b >>> 0) ^ 0x6a09e667);
  if (b >= 0x1_0000_0000) h = fmix(h ^ Math.floor(b / 0x1_0000_0000) ^ 0x3c6ef372);
  return h;
}

/** A uniform number in [0, 1) from (seed, a, b, salt). */
export function unit(seed: number, a: number, b: number, salt: number): number {
  return hash32(seed, a, b, salt) / 0x1_0000_0000;
}

/** Purposes, so the same (host, index) gives independent numbers per decision. */
export const SALT = {
  loss: 1,
  duplicate: 2,
  reorder: 3,
  reorderDepth: 4,
  script: 5,
  size: 6,
  startSeq: 7,
  startTs: 8,
  release: 10,
  format: 11,
  storm: 12,
  record: 14,
} as const;
