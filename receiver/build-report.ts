/**
 * The receiver's final report from what the threads returned: counters summed over workers and
 * listeners, latency summaries, tuning advice. Also the stand-ins for a thread's result built
 * from its live figures, when it crashed or the run is cut short before it returned. Pure.
 */
import { sumCounters } from "../blaster/counters.ts";
import { encodeHistogram, mergeEncoded, summarize } from "../blaster/latency.ts";
import { adviseTuning } from "./advice.ts";
import type { kernelDelta } from "./kernel-drops.ts";
import {
  LISTENER_LIVE,
  LISTENER_LIVE_SLOTS,
  liveRow,
  readRow,
  WORKER_LIVE,
  WORKER_LIVE_SLOTS,
} from "./live-figures.ts";
import type { ListenerKind } from "./native-listener.ts";
import type { ResolvedReceiverOptions } from "./options.ts";
import type { ReceiverReport } from "./receiver-report.ts";
import { SEQUENCE_COUNTERS, type SequenceCounters } from "./sequence.ts";
import { formatOutputSpec } from "./sinks.ts";
import type { ListenerResult, WorkerResult } from "./thread-messages.ts";

/** A listener's result from what it last published (socket figures unknown). */
export function listenerFromLive(
  index: number,
  memory: SharedArrayBuffer,
  rcvbufBytes: number,
): ListenerResult {
  const v = readRow(liveRow(memory, index, LISTENER_LIVE_SLOTS), LISTENER_LIVE);
  return { index, ...v, rcvbufBytes, socketErrors: 0, truncated: 0 };
}

/** A worker's result from what it last published (most sequence figures and histograms lost). */
export function workerFromLive(index: number, memory: SharedArrayBuffer): WorkerResult {
  const v = readRow(liveRow(memory, index, WORKER_LIVE_SLOTS), WORKER_LIVE);
  const sequence = {} as SequenceCounters;
  for (const name of SEQUENCE_COUNTERS) sequence[name] = 0;
  sequence.hosts = v.hosts;
  sequence.missing = v.missing;
  sequence.outOfOrder = v.outOfOrder;
  sequence.duplicates = v.duplicates;
  return {
    index,
    counters: {
      datagrams: v.datagrams,
      bytes: v.bytes,
      malformed: v.malformed,
      extended: v.extended,
      legacy: v.legacy,
    },
    sequence,
    reassembly: {},
    hostsTracked: v.hostsTracked,
    queueMaxDepth: v.queueMaxDepth,
    busyUs: v.busyUs,
    missingEdges: 0,
    truthHostsUnseen: 0,
    sinkError: null,
    histograms: { endToEnd: "", queue: "", processing: "" },
  };
}

type Histograms = ReceiverReport["histograms"];

/**
 * The sum of sets of encoded histograms (the workers', or merged reports') and the latency
 * summaries of that sum (processing recorded in ns, reported in µs). No sets: empty ones.
 */
export function latencyOf(
  sets: readonly Histograms[],
): Pick<ReceiverReport, "histograms" | "latencyUs"> {
  const names = ["endToEnd", "queue", "processing"] as const;
  const histograms = {} as Histograms;
  const latencyUs = {} as ReceiverReport["latencyUs"];
  for (const name of names) {
    const h = mergeEncoded(sets.map((s) => s[name]));
    histograms[name] = encodeHistogram(h);
    latencyUs[name] = summarize(h, name === "processing" ? 1000 : 1);
    h.destroy();
  }
  return { histograms, latencyUs };
}

export function buildReport(input: {
  o: ResolvedReceiverOptions;
  startedAt: Date;
  durationMs: number;
  reason: string;
  address: string;
  port: number;
  rcvbufGranted: number;
  rmemMax: number;
  kind: ListenerKind;
  kernel: ReturnType<typeof kernelDelta>;
  listeners: ListenerResult[];
  workers: WorkerResult[];
  latency: Pick<ReceiverReport, "histograms" | "latencyUs">;
  failures: string[];
  /** False when figures come from live counters (a crashed thread, a run cut short). */
  complete: boolean;
}): ReceiverReport {
  const { o, workers, listeners } = input;
  const core = sumCounters(workers.map((w) => w.counters));
  const seq = sumCounters(workers.map((w) => w.sequence)) as SequenceCounters;
  for (const name of SEQUENCE_COUNTERS) seq[name] ??= 0;
  const reasm = sumCounters(workers.map((w) => w.reassembly));
  const read = listeners.reduce((s, l) => s + l.datagrams, 0);
  const queueDrops = listeners.reduce((s, l) => s + l.queueDrops, 0);
  const durationMs = Math.round(input.durationMs);
  const activeMs = activeSpanMs(listeners);
  const { messages: _m, hosts: _h, hostsEvicted: _e, ...sequenceRest } = seq;
  const missingEdges = workers.reduce((sum, w) => sum + w.missingEdges, 0);
  const sequence = {
    ...sequenceRest,
    missing: seq.missing + missingEdges,
    missingEdges,
    truthHostsUnseen: workers.reduce((sum, w) => sum + w.truthHostsUnseen, 0),
    duplicates: seq.duplicates + (reasm.duplicateFragments ?? 0),
  };
  const perWorker = workers.map((w) => ({
    index: w.index,
    datagrams: w.counters.datagrams,
    messages: w.counters.extended + w.counters.legacy,
    hosts: w.sequence.hosts,
    queueMaxDepth: w.queueMaxDepth,
    busyUs: Math.round(w.busyUs),
    busyPercent: durationMs > 0 ? Math.round((w.busyUs / 10 / durationMs) * 10) / 10 : 0,
  }));
  const queueMaxDepth = Math.max(0, ...perWorker.map((w) => w.queueMaxDepth));
  const report: ReceiverReport = {
    tool: "netcons-bench receive",
    startedAt: input.startedAt.toISOString(),
    durationMs,
    activeMs,
    stopReason: input.reason,
    complete: input.complete,
    config: {
      bind: o.bind,
      address: input.address,
      port: input.port,
      listeners: o.listeners,
      workers: o.workers,
      queueLimit: o.queueLimit,
      msgTimeoutMs: o.msgTimeout,
      oosTimeoutMs: o.oosTimeout,
      seqWindow: o.seqWindow,
      maxHosts: o.maxHosts,
      hostIdleMs: o.hostIdle,
      maxMessageBytes: o.maxMessageBytes,
      fragmentTimeoutMs: o.fragTimeout,
      batchDelayMs: o.batchDelay,
      ringBytes: o.ringBytes,
      listener: input.kind,
      listenerRequested: o.listener,
      output: formatOutputSpec(o.output),
    },
    packets: {
      read,
      received: core.datagrams ?? 0,
      malformed: core.malformed ?? 0,
      bytes: core.bytes ?? 0,
      ratePps: activeMs > 0 ? Math.round((read * 1000) / activeMs) : 0,
    },
    messages: {
      extended: core.extended ?? 0,
      legacy: core.legacy ?? 0,
      fragments: core.fragments ?? 0,
      reassembled: reasm.reassembled ?? 0,
      incomplete: reasm.incomplete ?? 0,
      duplicateFragments: reasm.duplicateFragments ?? 0,
      fragmentsOverLimit: reasm.overLimit ?? 0,
      stamped: core.stamped ?? 0,
      nulTerminated: core.nulTerminated ?? 0,
      duplicates: core.duplicates ?? 0,
    },
    sequence,
    drops: {
      kernel: input.kernel.socketDrops,
      queue: queueDrops,
      kernelRcvbufErrorsSystem: input.kernel.rcvbufErrorsSystem,
      kernelCountersAvailable: input.kernel.available,
    },
    hosts: seq.hosts,
    hostsTracked: workers.reduce((s, w) => s + w.hostsTracked, 0),
    hostsEvicted: seq.hostsEvicted,
    rcvbuf: {
      requestedBytes: o.rcvbuf,
      grantedBytes: input.rcvbufGranted,
      rmemMaxBytes: input.rmemMax,
    },
    queue: { limit: o.queueLimit, maxDepth: queueMaxDepth },
    perWorker,
    perListener: listeners.map((l) => ({
      index: l.index,
      datagrams: l.datagrams,
      queueDrops: l.queueDrops,
      batches: l.batches,
      socketErrors: l.socketErrors,
      truncated: l.truncated,
    })),
    latencyUs: input.latency.latencyUs,
    histograms: input.latency.histograms,
    mergedFrom: 1,
    failures: input.failures,
    advice: [],
  };
  report.advice = adviseTuning({
    durationMs,
    listeners: o.listeners,
    workers: o.workers,
    datagramsRead: read,
    kernelDrops: report.drops.kernel,
    queueDrops,
    queueLimit: o.queueLimit,
    queueMaxDepth,
    rcvbufGrantedBytes: input.rcvbufGranted,
    rmemMaxBytes: input.rmemMax,
    workerDatagrams: perWorker.map((w) => w.datagrams),
    workerBusyUs: perWorker.map((w) => w.busyUs),
    hosts: report.hosts,
    hostsEvicted: report.hostsEvicted,
    maxHosts: o.maxHosts,
    incomplete: report.messages.incomplete,
    malformed: report.packets.malformed,
    received: report.packets.received,
  });
  return report;
}

/** From the first datagram any listener read to the last one, ms (0 with fewer than two). */
export function activeSpanMs(listeners: ListenerResult[]): number {
  const heard = listeners.filter((l) => l.firstUs > 0);
  if (heard.length === 0) return 0;
  const first = Math.min(...heard.map((l) => l.firstUs));
  const last = Math.max(...heard.map((l) => l.lastUs));
  return Math.round((last - first) / 1000);
}
