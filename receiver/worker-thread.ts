/**
 * A receiver worker: one long-lived piscina task per thread. For each listener it has a shared
 * ring and a port on which the listener announces batches; it runs each datagram of a batch
 * through WorkerCore, then hands the ring space back. It keeps live figures in shared memory for
 * the main thread's progress line, and returns its counters and encoded histograms once every
 * listener has said it ended and the main thread has said finish.
 */
import type { MessagePort } from "node:worker_threads";
import { encodeHistogram } from "../blaster/latency.ts";
import { monotonicUs } from "../blaster/stamp.ts";
import { type BatchMessage, fastMonotonicClock, type Ring, RingReader } from "./batch.ts";
import { CORE_COUNTERS, type CoreOptions, WorkerCore } from "./core.ts";
import type { SequenceCounters } from "./sequence.ts";
import { createSink, type OutputSpec } from "./sinks.ts";

/** Live figures per worker in the shared Float64Array, in this order. */
export const WORKER_LIVE = [
  "datagrams",
  "bytes",
  "malformed",
  "extended",
  "legacy",
  "hosts",
  "hostsTracked",
  "queueMaxDepth",
  "busyUs",
] as const;

export interface WorkerTask {
  index: number;
  ports: MessagePort[];
  /** One ring per listener, in listener order (shared with that listener). */
  rings: Ring[];
  control: MessagePort;
  /** Int32Array per worker: datagrams handed over but not yet processed. */
  inFlight: SharedArrayBuffer;
  live: SharedArrayBuffer;
  core: CoreOptions;
  output: OutputSpec;
  outputFd: number;
  /** How often to expire timed state and flush the sink. */
  tickMs: number;
}

/** A host the sender says it sent [firstSeq, lastSeq] from, keyed as this receiver sees it. */
export interface TruthHost {
  key: string;
  firstSeq: number;
  lastSeq: number;
}

/** Main -> worker: the listeners have all stopped; finish (with the sender's truth, if any). */
export interface FinishMessage {
  type: "finish";
  truth: TruthHost[];
  /** End markers to wait for: one per listener that stopped cleanly (a crashed one sends none). */
  ends: number;
}

export interface WorkerResult {
  index: number;
  counters: Record<string, number>;
  sequence: SequenceCounters;
  reassembly: Record<string, number>;
  hostsTracked: number;
  queueMaxDepth: number;
  busyUs: number;
  /** Seqs missing at the edges of the streams, from the sender's truth (0 without it). */
  missingEdges: number;
  /** Truth hosts this worker never saw (their whole range counts in missingEdges). */
  truthHostsUnseen: number;
  histograms: { endToEnd: string; queue: string; processing: string };
}

export default function runWorker(task: WorkerTask): Promise<WorkerResult> {
  const clock = fastMonotonicClock(monotonicUs);
  const core = new WorkerCore(task.core, createSink(task.output, task.outputFd));
  const inFlight = new Int32Array(task.inFlight);
  const live = new Float64Array(task.live, task.index * WORKER_LIVE.length * 8, WORKER_LIVE.length);
  const readers = task.rings.map((ring) => new RingReader(ring));
  const processing = core.processing;
  let queueMaxDepth = 0;
  let busyUs = 0;
  let ended = 0;
  let finishMessage: FinishMessage | null = null;

  const publish = () => {
    const c = core.counters;
    live[0] = c.datagrams;
    live[1] = c.bytes;
    live[2] = c.malformed;
    live[3] = c.extended;
    live[4] = c.legacy;
    live[5] = core.sequence.counters.hosts;
    live[6] = core.sequence.size;
    live[7] = queueMaxDepth;
    live[8] = busyUs;
  };

  const onBatch = (reader: RingReader, message: BatchMessage) => {
    if ("closed" in message) {
      ended++;
      if (finishMessage && ended >= finishMessage.ends) finish(finishMessage);
      return;
    }
    const depth = Atomics.load(inFlight, task.index);
    if (depth > queueMaxDepth) queueMaxDepth = depth;
    reader.until(message.end);
    const start = clock();
    let t = start;
    while (reader.next()) {
      core.handle(reader.address, reader.payload, reader.recvUs, t);
      const after = clock();
      processing.recordValue(Math.round((after - t) * 1000)); // ns
      t = after;
    }
    busyUs += t - start;
    reader.release();
    Atomics.sub(inFlight, task.index, message.count);
  };

  let resolveResult: (r: WorkerResult) => void;
  const result = new Promise<WorkerResult>((resolve) => {
    resolveResult = resolve;
  });
  const ticker = setInterval(() => {
    core.tick(clock() / 1000);
    publish();
  }, task.tickMs);

  task.ports.forEach((port, l) => {
    port.on("message", (m: BatchMessage) => onBatch(readers[l], m));
  });
  task.control.on("message", (m: { type: string }) => {
    if (m.type === "finish") {
      // Ports are not ordered with each other: finish once both this and every listener's end
      // marker have arrived.
      finishMessage = m as FinishMessage;
      if (ended >= finishMessage.ends) finish(finishMessage);
    } else if (m.type === "snap") {
      // The live p99 is per interval: hand over this interval's histogram and start a new one.
      const encoded = encodeHistogram(core.endToEndInterval);
      core.endToEndInterval.reset();
      task.control.postMessage({ type: "snap", endToEnd: encoded });
    }
  });

  function finish(message: FinishMessage): void {
    clearInterval(ticker);
    core.finish(clock() / 1000);
    publish();
    let missingEdges = 0;
    let truthHostsUnseen = 0;
    for (const h of message.truth) {
      const edges = core.sequence.edgeMissing(h.key, h.firstSeq, h.lastSeq);
      if (edges === null) {
        truthHostsUnseen++;
        missingEdges += h.lastSeq - h.firstSeq + 1;
      } else {
        missingEdges += edges;
      }
    }
    for (const port of task.ports) port.close();
    const counters: Record<string, number> = {};
    for (const name of CORE_COUNTERS) counters[name] = core.counters[name];
    const sequence = core.sequence.totals();
    resolveResult({
      index: task.index,
      counters,
      sequence,
      reassembly: { ...core.reassembler.counters },
      hostsTracked: core.sequence.size,
      queueMaxDepth,
      busyUs,
      missingEdges,
      truthHostsUnseen,
      histograms: {
        endToEnd: encodeHistogram(core.endToEnd),
        queue: encodeHistogram(core.queue),
        processing: encodeHistogram(core.processing),
      },
    });
  }
  return result;
}
