/**
 * Histogram suite: recording one latency into the receiver's HDR histogram
 * (blaster/latency.ts newHistogram, hdr-histogram-js), which a receiver worker does up to three
 * times per message (end-to-end, queue, processing).
 */
import { newHistogram } from "../../../blaster/latency.ts";
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

export const histogramSuite: Suite = {
  name: "histogram",
  description: "recordValue into the receiver's HDR histogram (blaster/latency.ts)",
  tasks(): BenchTask[] {
    const histogram = newHistogram();
    const values = latencies(VALUES);
    let i = 0;
    return [
      {
        name: "recordValue, 10 µs..100 ms",
        note: "newHistogram() (1 µs..1 h, 3 digits); values log-uniform over 10 µs..100 ms",
        op: () => {
          histogram.recordValue(values[i]);
          i = (i + 1) & (VALUES - 1);
          return i;
        },
      },
    ];
  },
};
