/**
 * Mean and margin of error of a few repeated figures (end-to-end runs, interleaved rounds).
 * Pure.
 */

/**
 * Two-sided 95% Student's t critical values by degrees of freedom (1..30); beyond, 1.96 is
 * close enough for a handful of repeats.
 */
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145,
  2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048,
  2.045, 2.042,
];

/**
 * Mean and relative margin of error (percent, 95%, Student's t) of repeated figures. A single
 * figure has no measured spread: its margin is given as 100% so it cannot look precise.
 */
export function meanWithMargin(values: readonly number[]): { mean: number; rmePercent: number } {
  const n = values.length;
  if (n === 0) return { mean: 0, rmePercent: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, rmePercent: 100 };
  if (mean === 0) return { mean, rmePercent: 0 };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  const sem = Math.sqrt(variance / n);
  const t = T95[n - 2] ?? 1.96;
  return { mean, rmePercent: (100 * t * sem) / Math.abs(mean) };
}

/** The median (the mean of the middle two for an even count); 0 for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The median of repeated figures, with the relative margin of error of their mean as the noise
 * allowance: one run disturbed by other work on the machine moves the mean but barely the
 * median, while the margin still says how much the runs disagreed.
 */
export function medianWithMargin(values: readonly number[]): { mean: number; rmePercent: number } {
  return { mean: median(values), rmePercent: meanWithMargin(values).rmePercent };
}
