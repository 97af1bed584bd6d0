/**
 * The statistics every benchmark shares: median, mean, relative spread and the Student's t
 * margin of error of a few repeated figures, and how busy the machine was between two CPU tick
 * samples. Pure (numbers in, numbers out); the samples themselves are read by ./machine.ts.
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

/** The two-sided 95% Student's t critical value for n repeated figures (n - 1 degrees of freedom). */
export function t95(n: number): number {
  return T95[n - 2] ?? 1.96;
}

/** The arithmetic mean; 0 for no values. */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Mean and relative margin of error (percent, 95%, Student's t) of repeated figures. A single
 * figure has no measured spread: its margin is given as 100% so it cannot look precise.
 */
export function meanWithMargin(values: readonly number[]): { mean: number; rmePercent: number } {
  const n = values.length;
  if (n === 0) return { mean: 0, rmePercent: 0 };
  const m = mean(values);
  if (n < 2) return { mean: m, rmePercent: 100 };
  if (m === 0) return { mean: m, rmePercent: 0 };
  const variance = values.reduce((a, v) => a + (v - m) ** 2, 0) / (n - 1);
  const sem = Math.sqrt(variance / n);
  return { mean: m, rmePercent: (100 * t95(n) * sem) / Math.abs(m) };
}

/** The median (the mean of the middle two for an even count); 0 for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The middle item of records ranked by one figure (the lower middle for an even count), so a
 * report can show the whole median round (its rate with its own CPU and error counts); null for
 * no items.
 */
export function medianBy<T>(items: readonly T[], figure: (item: T) => number): T | null {
  if (items.length === 0) return null;
  const sorted = [...items].sort((a, b) => figure(a) - figure(b));
  return sorted[(sorted.length - 1) >> 1];
}

/**
 * The median of repeated figures, with the relative margin of error of their mean as the noise
 * allowance: one run disturbed by other work on the machine moves the mean but barely the
 * median, while the margin still says how much the runs disagreed.
 */
export function medianWithMargin(values: readonly number[]): { mean: number; rmePercent: number } {
  return { mean: median(values), rmePercent: meanWithMargin(values).rmePercent };
}

/**
 * (max - min) / median of repeated figures: 0 when they agree. Null when there is nothing to
 * compare (fewer than two figures) or the median is 0; pass only figures that were measured.
 */
export function relativeSpread(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const m = median(values);
  if (m === 0) return null;
  return (Math.max(...values) - Math.min(...values)) / Math.abs(m);
}

/**
 * Cumulative CPU time of the whole machine (all CPUs, all processes) in clock ticks, as the
 * first line of /proc/stat gives it.
 */
export interface CpuTicks {
  total: number;
  /** idle + iowait */
  idle: number;
  /** Time the hypervisor gave this machine's virtual CPUs to someone else. */
  steal: number;
}

/** Parses the aggregate `cpu ...` line of /proc/stat; null when the text has none. */
export function parseCpuTicks(procStat: string): CpuTicks | null {
  const line = /^cpu\s+([\d\s]+)$/m.exec(procStat);
  if (!line) return null;
  const f = line[1].trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
  // counted in user and nice, so it is left out of the total.
  const total = f.slice(0, 8).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  return { total, idle: (f[3] ?? 0) + (f[4] ?? 0), steal: f[7] ?? 0 };
}

/** How busy the machine was between two samples: shares of all CPU time, 0..1. */
export function machineBusy(
  before: CpuTicks,
  after: CpuTicks,
): { busyShare: number; stealShare: number } {
  const total = after.total - before.total;
  if (total <= 0) return { busyShare: 0, stealShare: 0 };
  return {
    busyShare: 1 - (after.idle - before.idle) / total,
    stealShare: (after.steal - before.steal) / total,
  };
}
