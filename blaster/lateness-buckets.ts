/**
 * Live lateness counts: a fixed row of log-scale buckets per sending thread (in shared memory),
 * which the thread bumps for every paced datagram without allocating, and from which the main
 * thread reads percentiles of any interval (the difference of two snapshots). Pure.
 *
 * Buckets: 0..7 µs exactly, then 8 per power of two (12.5% wide at most) up to 2^31 µs; the
 * last slot of a row is the largest lateness recorded (µs). A percentile is its bucket's highest
 * value, never above that largest one.
 */

/** Sub-buckets per power of two (a power of two itself). */
const SUB = 8;
const SUB_BITS = 3;
/** Buckets of one row: 0..7 exactly, then SUB per octave from 2^3 to 2^30. */
export const LATENESS_BUCKETS = SUB + (31 - SUB_BITS) * SUB;
/** Float64 slots of one row: the buckets, then the largest value. */
export const LATENESS_SLOTS = LATENESS_BUCKETS + 1;
const MAX_SLOT = LATENESS_BUCKETS;
const TOP = 2 ** 31 - 1;

/** The bucket of a lateness in µs (rounded down; negative counts as 0, huge as the last). */
export function bucketOf(valueUs: number): number {
  const v = valueUs <= 0 ? 0 : valueUs >= TOP ? TOP : Math.floor(valueUs);
  if (v < SUB) return v;
  const e = 31 - Math.clz32(v); // v in [2^e, 2^(e+1)), e >= 3
  return SUB + (e - SUB_BITS) * SUB + ((v >>> (e - SUB_BITS)) & (SUB - 1));
}

/** The highest value (µs) a bucket holds. */
export function bucketHighUs(bucket: number): number {
  if (bucket < SUB) return bucket;
  const e = SUB_BITS + Math.floor((bucket - SUB) / SUB);
  const sub = (bucket - SUB) % SUB;
  return (SUB + sub + 1) * 2 ** (e - SUB_BITS) - 1;
}

/** Counts one lateness (µs) in the row starting at `at` of `rows` (no allocation). */
export function recordLateness(rows: Float64Array, at: number, valueUs: number): void {
  rows[at + bucketOf(valueUs)]++;
  if (valueUs > rows[at + MAX_SLOT]) rows[at + MAX_SLOT] = valueUs;
}

/** The rows `rowIndexes` of `rows`, summed into a new row (their largest value for the max). */
export function sumLatenessRows(rows: Float64Array, rowIndexes: readonly number[]): Float64Array {
  const out = new Float64Array(LATENESS_SLOTS);
  for (const r of rowIndexes) {
    const at = r * LATENESS_SLOTS;
    for (let i = 0; i < LATENESS_BUCKETS; i++) out[i] += rows[at + i];
    out[MAX_SLOT] = Math.max(out[MAX_SLOT], rows[at + MAX_SLOT]);
  }
  return out;
}

export interface IntervalLateness {
  p50: number;
  p99: number;
  max: number;
}

/**
 * Percentiles (µs) of what was counted between two snapshots of a summed row (`before` null:
 * since the start); null when nothing was counted in between.
 */
export function intervalLateness(
  now: Float64Array,
  before: Float64Array | null,
): IntervalLateness | null {
  let total = 0;
  let highest = -1;
  for (let i = 0; i < LATENESS_BUCKETS; i++) {
    const n = now[i] - (before ? before[i] : 0);
    total += n;
    if (n > 0) highest = i;
  }
  if (total <= 0) return null;
  const cap = now[MAX_SLOT];
  const at = (p: number) => {
    const rank = Math.max(1, Math.ceil((p / 100) * total));
    let seen = 0;
    for (let i = 0; i < LATENESS_BUCKETS; i++) {
      seen += now[i] - (before ? before[i] : 0);
      if (seen >= rank) return Math.min(bucketHighUs(i), cap);
    }
    return Math.min(bucketHighUs(highest), cap);
  };
  return { p50: at(50), p99: at(99), max: Math.min(bucketHighUs(highest), cap) };
}
