/**
 * The receiver threads' clock: monotonic microseconds from performance.now(), which reads the
 * same CLOCK_MONOTONIC as stamp.ts monotonicUs() without allocating a BigInt per call; the offset
 * is taken once per thread (performance.now() counts from the thread's own time origin).
 */
import { monotonicUs } from "../blaster/stamp.ts";

export function threadClock(): () => number {
  const offset = monotonicUs() - performance.now() * 1000;
  return () => performance.now() * 1000 + offset;
}
