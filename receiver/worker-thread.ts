/**
 * A receiver worker: one long-lived piscina task per thread. It reads the shared ring of each
 * listener, runs each datagram through WorkerCore in place (offsets into the ring, no copy), and
 * hands the ring space back. With nothing to read it sleeps until a listener rings (wake.ts), so
 * an idle worker takes a datagram up at once and a busy one takes whatever piled up as one batch.
 * It keeps live figures in shared memory and returns its counters and encoded histograms once
 * every listener has closed its ring and the main thread has said finish.
 */
import { encodeHistogram } from "../blaster/latency.ts";
import { threadClock } from "./clock.ts";
import { CORE_COUNTERS, WorkerCore } from "./core.ts";
import { liveRow, WORKER_LIVE, WORKER_LIVE_SLOTS } from "./live-figures.ts";
import { RingReader } from "./ring.ts";
import { createSink } from "./sinks.ts";
import type {
  FinishMessage,
  WorkerControl,
  WorkerNotice,
  WorkerResult,
  WorkerTask,
} from "./thread-messages.ts";
import { sleep } from "./wake.ts";

/** A drain longer than this yields to the event loop (ticks, control messages) before going on. */
const YIELD_US = 5000;
/** The clock is read again after this many records of one batch (end-to-end precision). */
const CLOCK_EVERY = 256;

export default function runWorker(task: WorkerTask): Promise<WorkerResult> {
  const clock = threadClock();
  const core = new WorkerCore(task.core, createSink(task.output, task.outputFd));
  const inFlight = new Int32Array(task.inFlight);
  const bells = new Int32Array(task.bells);
  const live = liveRow(task.live, task.index, WORKER_LIVE_SLOTS);
  const readers = task.rings.map((ring) => new RingReader(ring));
  const processing = core.processing;
  const me = task.index;
  let queueMaxDepth = 0;
  let busyUs = 0;
  let finishMessage: FinishMessage | null = null;
  let finished = false;
  let sinkErrorSent = false;

  const publish = () => {
    const c = core.counters;
    const s = core.sequence.counters;
    live[WORKER_LIVE.datagrams] = c.datagrams;
    live[WORKER_LIVE.bytes] = c.bytes;
    live[WORKER_LIVE.malformed] = c.malformed;
    live[WORKER_LIVE.extended] = c.extended;
    live[WORKER_LIVE.legacy] = c.legacy;
    live[WORKER_LIVE.hosts] = s.hosts;
    live[WORKER_LIVE.hostsTracked] = core.sequence.size;
    live[WORKER_LIVE.queueMaxDepth] = queueMaxDepth;
    live[WORKER_LIVE.busyUs] = busyUs;
    live[WORKER_LIVE.missing] = s.missing;
    live[WORKER_LIVE.outOfOrder] = s.outOfOrder;
    live[WORKER_LIVE.duplicates] = s.duplicates;
  };

  /** One batch: the records of `reader` published so far. Returns how many there were. */
  const batch = (reader: RingReader): number => {
    if (!reader.pending()) return 0;
    const depth = Atomics.load(inFlight, me);
    if (depth > queueMaxDepth) queueMaxDepth = depth;
    reader.begin();
    const bytes = reader.bytes;
    const start = clock();
    let now = start;
    let n = 0;
    while (reader.next()) {
      core.handle(
        bytes,
        reader.addrAt,
        reader.addrLen,
        reader.payloadAt,
        reader.payloadLen,
        reader.recvUs,
        now,
      );
      if (++n % CLOCK_EVERY === 0) now = clock();
    }
    reader.release();
    Atomics.sub(inFlight, me, n);
    const end = clock();
    if (n > 0) processing.recordValueWithCount(Math.round(((end - start) * 1000) / n), n); // ns
    busyUs += end - start;
    return n;
  };

  /** Reads every ring until all are empty (yielding now and then), then sleeps. */
  const drain = (): void => {
    if (finished) return;
    const started = clock();
    for (;;) {
      let n = 0;
      for (const reader of readers) n += batch(reader);
      if (core.sinkError !== null && !sinkErrorSent) {
        sinkErrorSent = true;
        task.control.postMessage({
          type: "sink-error",
          message: core.sinkError,
        } satisfies WorkerNotice);
      }
      if (n === 0) break;
      if (clock() - started > YIELD_US) {
        setImmediate(drain);
        return;
      }
    }
    if (finishMessage && closedRings() >= finishMessage.ends) {
      finish(finishMessage);
      return;
    }
    const waiting = sleep(bells, me, () => readers.some((r) => r.pending()));
    if (waiting === null) setImmediate(drain);
    else waiting.then(drain);
  };

  const closedRings = () => readers.filter((r) => r.drained()).length;

  let resolveResult: (r: WorkerResult) => void;
  const result = new Promise<WorkerResult>((resolve) => {
    resolveResult = resolve;
  });
  const ticker = setInterval(() => {
    core.tick(clock() / 1000);
    publish();
  }, task.tickMs);

  task.control.on("message", (m: WorkerControl) => {
    if (m.type === "finish") {
      // The listeners closed their rings before the main thread said finish, but this worker
      // may not have read them all yet: then the drain that empties them finishes.
      finishMessage = m;
      if (closedRings() >= m.ends) finish(m);
    } else if (m.type === "snap") {
      // The live p99 is per interval: hand over this interval's histogram and start a new one.
      const encoded = encodeHistogram(core.endToEndInterval);
      core.endToEndInterval.reset();
      task.control.postMessage({ type: "snap", endToEnd: encoded } satisfies WorkerNotice);
    }
  });
  drain();

  function finish(message: FinishMessage): void {
    finished = true;
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
    const counters: Record<string, number> = {};
    for (const name of CORE_COUNTERS) counters[name] = core.counters[name];
    resolveResult({
      index: me,
      counters,
      sequence: core.sequence.totals(),
      reassembly: { ...core.reassembler.counters },
      hostsTracked: core.sequence.size,
      queueMaxDepth,
      busyUs,
      missingEdges,
      truthHostsUnseen,
      sinkError: core.sinkError,
      histograms: {
        endToEnd: encodeHistogram(core.endToEnd),
        queue: encodeHistogram(core.queue),
        processing: encodeHistogram(core.processing),
      },
    });
  }
  return result;
}
