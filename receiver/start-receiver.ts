/**
 * Starting and stopping one receiver: options checked, threads started (threads.ts), sockets
 * bound (bind.ts), live progress (progress.ts); stop() samples the kernel's drop counters while
 * the sockets still exist, drains the threads (drain.ts), merges their histograms and builds the
 * report (build-report.ts). liveReport() is the report from the live figures alone, for a run
 * that must end before stop() is done.
 */
import { isIP } from "node:net";
import { mergeEncoded, percentileText } from "../blaster/latency.ts";
import { BindError, bindListeners } from "./bind.ts";
import { buildReport, latencyOf, listenerFromLive, workerFromLive } from "./build-report.ts";
import { drainThreads, type SenderTruthHost } from "./drain.ts";
import { kernelDelta, sampleKernel } from "./kernel-drops.ts";
import { type ListenerKind, loadListenerAddon } from "./native-listener.ts";
import {
  type ReceiverOptions,
  type ResolvedReceiverOptions,
  resolveReceiverOptions,
} from "./options.ts";
import { readProcText } from "./procfs.ts";
import { LiveProgress, type ReceiverProgress } from "./progress.ts";
import type { ReceiverReport } from "./receiver-report.ts";
import { startThreads } from "./threads.ts";

export interface RunningReceiver {
  port: number;
  address: string;
  snapshot(): ReceiverProgress;
  /**
   * Stops, drains and reports; `reason` lands in report.stopReason. With the sender's truth
   * (per-host first and last seq, blaster/truth.ts extendedHosts), `sequence.missing` includes the seqs lost
   * at the edges of each stream, as the blaster's `expected.missing` does. Idempotent.
   */
  stop(reason?: string, end?: { truth?: SenderTruthHost[] }): Promise<ReceiverReport>;
  /**
   * The report from the threads' live figures, at once and without stopping anything (marked
   * complete: false): for a process that must exit before stop() is done.
   */
  liveReport(reason: string): ReceiverReport;
  /** Settles with the first worker's sink failure (e.g. EPIPE on stdout); the run should stop. */
  sinkFailure: Promise<string>;
  /** HdrHistogram percentile text of the three histograms (valid after stop()). */
  percentiles(): { endToEnd: string; queue: string; processing: string } | null;
}

/** Attempts at a free port (0) that landed in another program's SO_REUSEPORT group. */
const PORT_RETRIES = 3;

function readRmemMax(): number {
  return Number(readProcText("/proc/sys/net/core/rmem_max").trim()) || 0;
}

/** The read path for `requested`: native needs the addon (a clear start error without it). */
function listenerKind(requested: "auto" | ListenerKind, bind: string, port: number): ListenerKind {
  if (requested === "dgram") return "dgram";
  const loaded = loadListenerAddon();
  if (!("error" in loaded)) return "native";
  if (requested === "auto") return "dgram";
  throw new Error(`cannot listen on [${bind}]:${port}: --listener native needs ${loaded.error}`);
}

/** Validates `options` (a ReceiverOptionsError names a bad key) and starts the receiver. */
export async function startReceiver(
  options: ReceiverOptions = {},
  hooks: { onProgress?: (p: ReceiverProgress) => void } = {},
): Promise<RunningReceiver> {
  return startResolved(resolveReceiverOptions(options), hooks);
}

/** startReceiver() with options already validated. */
export async function startResolved(
  o: ResolvedReceiverOptions,
  hooks: { onProgress?: (p: ReceiverProgress) => void } = {},
  attempt = 1,
): Promise<RunningReceiver> {
  const kind = listenerKind(o.listener, o.bind, o.port);
  const startedAt = new Date();
  const t0 = performance.now();
  const threads = startThreads(o, kind);
  let bound: Awaited<ReturnType<typeof bindListeners>>;
  try {
    bound = await bindListeners(threads, o.listeners, o.bind, o.port);
  } catch (error) {
    await threads.destroy();
    if (error instanceof BindError && error.shared && o.port === 0 && attempt <= PORT_RETRIES) {
      return startResolved(o, hooks, attempt + 1);
    }
    throw error;
  }

  const dualStack = isIP(bound.address) === 6;
  const family = dualStack ? 6 : 4;
  const kernelStart = sampleKernel(bound.port, family);
  const rmemMax = readRmemMax();
  let failSink: (message: string) => void = () => {};
  const sinkFailure = new Promise<string>((resolve) => {
    failSink = resolve;
  });
  const progress = new LiveProgress(
    threads.memory,
    threads.workerControls,
    { port: bound.port, family, start: kernelStart },
    (w, message) => failSink(`worker ${w}: output failed: ${message}`),
  );
  progress.start(o.interval, hooks.onProgress);

  const reportOf = (
    reason: string,
    parts: Awaited<ReturnType<typeof drainThreads>>,
    kernel: ReturnType<typeof kernelDelta>,
    latency: Pick<ReceiverReport, "histograms" | "latencyUs">,
  ) =>
    buildReport({
      o,
      startedAt,
      durationMs: performance.now() - t0,
      reason,
      address: bound.address,
      port: bound.port,
      rcvbufGranted: bound.rcvbufGranted,
      rmemMax,
      kernel,
      kind,
      latency,
      ...parts,
    });

  let stopping: Promise<ReceiverReport> | null = null;
  // The merged histograms, kept encoded: their percentile text is costly and rarely wanted.
  let encodedTotals: { endToEnd: string; queue: string; processing: string } | null = null;

  const stop = (reason = "stopped", end: { truth?: SenderTruthHost[] } = {}) => {
    stopping ??= (async () => {
      progress.stop();
      // While the sockets exist: closed sockets vanish from /proc/net/udp with their counts.
      const kernelEnd = sampleKernel(bound.port, family);
      const drained = await drainThreads(threads, {
        truth: end.truth ?? [],
        dualStack,
        rcvbufGranted: bound.rcvbufGranted,
      });
      const latency = latencyOf(drained.workers.map((r) => r.histograms));
      encodedTotals = latency.histograms;
      return reportOf(reason, drained, kernelDelta(kernelStart, kernelEnd), latency);
    })();
    return stopping;
  };

  const liveReport = (reason: string): ReceiverReport => {
    return reportOf(
      reason,
      {
        listeners: threads.memory.rings.map((_, l) =>
          listenerFromLive(l, threads.memory.listenerLive, bound.rcvbufGranted),
        ),
        workers: threads.workerControls.map((_, w) => workerFromLive(w, threads.memory.workerLive)),
        failures: [`${reason}: figures from the threads' live counters`],
        complete: false,
      },
      kernelDelta(kernelStart, progress.kernelNow()),
      latencyOf([]),
    );
  };

  return {
    port: bound.port,
    address: bound.address,
    snapshot: () => progress.snapshot(),
    stop,
    liveReport,
    sinkFailure,
    percentiles: () => {
      if (!encodedTotals) return null;
      const text = (encoded: string, scale: number) => {
        const h = mergeEncoded([encoded]);
        const out = percentileText(h, scale);
        h.destroy();
        return out;
      };
      return {
        endToEnd: text(encodedTotals.endToEnd, 1),
        queue: text(encodedTotals.queue, 1),
        processing: text(encodedTotals.processing, 1000),
      };
    },
  };
}
