/**
 * Zero-loss throughput search in the RFC 2544 (section 26.1) manner: try the highest rate
 * first; if it loses anything, binary-search between the lowest and highest rates until the
 * bracket is narrower than the stated resolution. The answer is the highest rate that was
 * actually measured without loss, never an interpolation.
 *
 * Pure over a trial callback: it owns no sockets, clocks or processes, so it is tested with a
 * synthetic "device" that loses above a known rate.
 */

export interface SearchSettings {
  /** Lowest rate worth trying (msg/s); a loss here ends the search with no passing rate. */
  lowPps: number;
  /** Highest rate tried (msg/s); tried first. */
  highPps: number;
  /** Stop when the bracket [pass, fail] is at most this wide (msg/s). */
  resolutionPps: number;
  /** Upper bound on trials, whatever the bracket (bounded loops). */
  maxTrials: number;
}

export interface SearchStep<T> {
  ratePps: number;
  pass: boolean;
  /** Whatever the trial returned (the full figures), kept for the report. */
  trial: T;
}

export interface SearchResult<T> {
  /** Highest rate measured with no loss, or 0 when even lowPps lost. */
  zeroLossPps: number;
  /** The lowest rate that failed (the top of the final bracket), or null if highPps passed. */
  failedPps: number | null;
  steps: SearchStep<T>[];
  /** The trial at zeroLossPps, if any. */
  best: T | null;
  /** Why it stopped: the bracket is narrower than the resolution, highPps passed, lowPps
   *  failed, the trial budget ran out, or it was stopped from outside. */
  stoppedBy: "resolution" | "high-passed" | "low-failed" | "max-trials" | "aborted";
}

export type TrialFn<T> = (ratePps: number) => Promise<{ pass: boolean; trial: T }>;

/**
 * Runs the search. `shouldStop` is asked before every trial (Ctrl-C); the steps so far are
 * returned either way.
 */
export async function zeroLossSearch<T>(
  settings: SearchSettings,
  runTrial: TrialFn<T>,
  shouldStop: () => boolean = () => false,
): Promise<SearchResult<T>> {
  const { lowPps, highPps, resolutionPps, maxTrials } = settings;
  if (!(lowPps > 0 && highPps >= lowPps && resolutionPps > 0 && maxTrials >= 1)) {
    throw new RangeError(
      `search needs 0 < lowPps <= highPps, resolutionPps > 0, maxTrials >= 1 (got ${lowPps}, ${highPps}, ${resolutionPps}, ${maxTrials})`,
    );
  }
  const steps: SearchStep<T>[] = [];
  let best: T | null = null;
  let passed = 0; // highest passing rate so far
  let failed: number | null = null; // lowest failing rate so far
  const result = (stoppedBy: SearchResult<T>["stoppedBy"]): SearchResult<T> => ({
    zeroLossPps: passed,
    failedPps: failed,
    steps,
    best,
    stoppedBy,
  });
  const tryRate = async (ratePps: number): Promise<boolean> => {
    const { pass, trial } = await runTrial(ratePps);
    steps.push({ ratePps, pass, trial });
    if (pass && ratePps > passed) {
      passed = ratePps;
      best = trial;
    }
    if (!pass && (failed === null || ratePps < failed)) failed = ratePps;
    return pass;
  };

  if (shouldStop()) return result("aborted");
  if (await tryRate(highPps)) return result("high-passed");
  if (lowPps < highPps) {
    if (shouldStop()) return result("aborted");
    if (!(await tryRate(lowPps))) return result("low-failed");
  } else {
    return result("low-failed");
  }
  let lo = lowPps;
  let hi = highPps;
  while (hi - lo > resolutionPps) {
    if (steps.length >= maxTrials) return result("max-trials");
    if (shouldStop()) return result("aborted");
    const mid = Math.round((lo + hi) / 2);
    if (mid <= lo || mid >= hi) break; // the bracket cannot shrink further in whole msg/s
    if (await tryRate(mid)) lo = mid;
    else hi = mid;
  }
  return result("resolution");
}
