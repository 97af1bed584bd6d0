/**
 * Latency histograms (hdr-histogram-js), the one definition shared by the blaster (lateness of
 * actual against intended send time) and the receiver (end-to-end, queue, processing). Each
 * worker records into its own histograms; the main thread merges them by their compressed
 * encoding (the library's portable form), as autocannon does across its workers.
 *
 * The blaster imports this module only when a run is paced: loading hdr-histogram-js costs
 * each thread about 5 MB of heap (its WebAssembly build, pako, base64 come with it) and touches
 * another ~9 MB of the node binary, which an unpaced million-host run should not pay.
 */
import * as hdr from "hdr-histogram-js";

export type Histogram = hdr.Histogram;

/** Percentiles reported everywhere, in the histogram's unit. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  max: number;
}

export function newHistogram(): Histogram {
  // 1 unit .. 1 hour in µs (grows if needed), 3 significant digits: ~0.1% error, a few tens of KB.
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** A histogram that is the sum of the encoded ones. */
export function mergeEncoded(encoded: readonly string[]): Histogram {
  const out = newHistogram();
  for (const e of encoded) {
    if (!e) continue;
    const h = hdr.decodeFromCompressedBase64(e);
    out.add(h);
    h.destroy();
  }
  return out;
}

/** Summary with values divided by `scale` (e.g. ns recorded, µs reported). */
export function summarize(h: Histogram, scale = 1): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0, max: 0 };
  const at = (p: number) => h.getValueAtPercentile(p) / scale;
  return {
    count: h.totalCount,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    p9999: at(99.99),
    max: h.maxValue / scale,
  };
}

/** HdrHistogram's percentile distribution text (plot with the usual HdrHistogram tools). */
export function percentileText(h: Histogram, scale = 1): string {
  return h.outputPercentileDistribution(5, scale);
}
