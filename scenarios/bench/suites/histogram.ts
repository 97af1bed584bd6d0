/**
 * Histogram suite: recording one latency into an HDR histogram (hdr-histogram-js), which the
 * receiver does for every message (end-to-end, queue and processing latency).
 */
import * as hdr from "hdr-histogram-js";
import type { BenchTask, Suite } from "../suite.ts";

/** Latencies from 10 µs to ~100 ms, log-uniform as real latencies roughly are; fixed seed. */
function latencies(count: number): Float64Array {
  const out = new Float64Array(count);
  let x = 0x2545f491;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const u = (x >>> 0) / 0x1_0000_0000;
    out[i] = Math.round(10 * 10 ** (4 * u));
  }
  return out;
}

const VALUES = 4096;

function recordTask(name: string, note: string, request: hdr.BuildRequest): BenchTask {
  const histogram = hdr.build(request);
  const values = latencies(VALUES);
  let i = 0;
  return {
    name,
    note,
    op: () => {
      histogram.recordValue(values[i]);
      i = (i + 1) & (VALUES - 1);
      return i;
    },
  };
}

export const histogramSuite: Suite = {
  name: "histogram",
  description: "hdr-histogram-js recordValue of latencies (µs)",
  tasks(): BenchTask[] {
    return [
      recordTask(
        "recordValue, 32-bit, 3 digits",
        "build({bitBucketSize: 32, 3 digits, 1 µs..1 h})",
        {
          bitBucketSize: 32,
          numberOfSignificantValueDigits: 3,
          lowestDiscernibleValue: 1,
          highestTrackableValue: 3_600_000_000,
          autoResize: false,
        },
      ),
      recordTask(
        "recordValue, packed, 3 digits",
        "build({bitBucketSize: 'packed', 3 digits, 1 µs..1 h})",
        {
          bitBucketSize: "packed",
          numberOfSignificantValueDigits: 3,
          lowestDiscernibleValue: 1,
          highestTrackableValue: 3_600_000_000,
          autoResize: false,
        },
      ),
    ];
  },
};
