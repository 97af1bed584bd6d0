/**
 * The paired receiver's programmatic API. `startReceiver` binds --listeners sockets (one
 * listener thread each, SO_REUSEPORT) feeding --workers worker threads (piscina pools with one
 * long-lived task per thread), and resolves once every socket is bound. `stop()` samples the
 * kernel's drop counters while the sockets still exist, stops the listeners, lets the workers
 * drain, merges their counters and histograms, and returns the report. `runReceiver` adds the
 * stop conditions (duration, idle, abort signal) for the CLI and scenarios.
 */
import { writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { MessageChannel, type MessagePort } from "node:worker_threads";
import { Piscina } from "piscina";
import { sumCounters } from "../blaster/counters.ts";
import { encodeHistogram, mergeEncoded, percentileText, summarize } from "../blaster/latency.ts";
import { adviseTuning } from "./advice.ts";
import { createRing, workerForAddress } from "./batch.ts";
import { type KernelSample, kernelDelta, receivingSockets, sampleKernel } from "./kernel-drops.ts";
import {
  LISTENER_LIVE,
  type ListenerNotice,
  type ListenerResult,
  type ListenerTask,
} from "./listener-thread.ts";
import { type ListenerKind, loadListenerAddon } from "./native-listener.ts";
import {
  type ReceiverOptions,
  type ResolvedReceiverOptions,
  type RunOptions,
  resolveReceiverOptions,
} from "./options.ts";
import { readProcText } from "./procfs.ts";
import type { ReceiverReport } from "./receiver-report.ts";
import { SEQUENCE_COUNTERS, type SequenceCounters } from "./sequence.ts";
import { formatOutputSpec, type OutputSpec, openOutput } from "./sinks.ts";
import {
  type FinishMessage,
  type TruthHost,
  WORKER_LIVE,
  type WorkerResult,
  type WorkerTask,
} from "./worker-thread.ts";

export type { ReceiverOptions, ReceiverReport, RunOptions };

export interface ReceiverProgress {
  elapsedMs: number;
  packets: { read: number; received: number; malformed: number };
  messages: { extended: number; legacy: number };
  /** Datagrams read per second over the last interval. */
  ratePps: number;
  drops: { kernel: number; queue: number };
  hosts: number;
  /** End-to-end p99 over the last interval (0 without stamped messages). */
  p99Us: number;
  queueMaxDepth: number;
}

/** What the sender says one host sent (its source address as the sender bound it). */
export interface SenderTruthHost {
  source: string;
  firstSeq: number;
  lastSeq: number;
}

export interface RunningReceiver {
  port: number;
  address: string;
  snapshot(): ReceiverProgress;
  /**
   * Stops, drains and reports; `reason` lands in report.stopReason. With the sender's truth
   * (per-host first and last seq, see readBlastTruth), `sequence.missing` includes the seqs lost
   * at the edges of each stream, as the blaster's `expected.missing` does. Idempotent.
   */
  stop(reason?: string, end?: { truth?: SenderTruthHost[] }): Promise<ReceiverReport>;
  /** HdrHistogram percentile text of the three histograms (valid after stop()). */
  percentiles(): { endToEnd: string; queue: string; processing: string } | null;
}

/** How often workers expire timed state and flush sinks. */
const TICK_MS = 50;

function readRmemMax(): number {
  return Number(readProcText("/proc/sys/net/core/rmem_max").trim()) || 0;
}

function waitNotice(port: MessagePort): Promise<ListenerNotice> {
  return new Promise((resolve) => port.once("message", resolve));
}

export async function startReceiver(
  options: ReceiverOptions = {},
  hooks: { onProgress?: (p: ReceiverProgress) => void } = {},
  retries?: number,
): Promise<RunningReceiver> {
  const o = resolveReceiverOptions(options);
  const output: OutputSpec = o.output;
  const L = o.listeners;
  const W = o.workers;
  const kind = listenerKind(o.listener, o.bind, o.port);
  const startedAt = new Date();
  const t0 = performance.now();

  const inFlight = new SharedArrayBuffer(4 * W);
  const workerLive = new SharedArrayBuffer(8 * W * WORKER_LIVE.length);
  const listenerLive = new SharedArrayBuffer(8 * L * LISTENER_LIVE.length);
  const wl = new Float64Array(workerLive);
  const ll = new Float64Array(listenerLive);
  const channels = Array.from({ length: L }, () =>
    Array.from({ length: W }, () => new MessageChannel()),
  );
  const rings = Array.from({ length: L }, () =>
    Array.from({ length: W }, () => createRing(o.ringBytes)),
  );
  const out = openOutput(output);

  const poolOptions = { atomics: "disabled" as const, idleTimeout: Number.POSITIVE_INFINITY };
  const workerPool = new Piscina({
    ...poolOptions,
    filename: new URL("./worker-thread.ts", import.meta.url).href,
    minThreads: W,
    maxThreads: W,
  });
  const listenerPool = new Piscina({
    ...poolOptions,
    filename: new URL("./listener-thread.ts", import.meta.url).href,
    minThreads: L,
    maxThreads: L,
  });

  const workerControls: MessagePort[] = [];
  const workerResults: Promise<WorkerResult>[] = [];
  for (let w = 0; w < W; w++) {
    const control = new MessageChannel();
    workerControls.push(control.port1);
    const ports = channels.map((row) => row[w].port2);
    const task: WorkerTask = {
      index: w,
      ports,
      rings: rings.map((row) => row[w]),
      control: control.port2,
      inFlight,
      live: workerLive,
      core: {
        maxMessageBytes: o.maxMessageBytes,
        fragmentTimeoutMs: o.fragTimeout,
        sequence: {
          window: o.seqWindow,
          msgTimeoutMs: o.msgTimeout,
          oosTimeoutMs: o.oosTimeout,
          maxHosts: Math.max(1, Math.ceil(o.maxHosts / W)),
          hostIdleMs: o.hostIdle,
        },
      },
      output,
      outputFd: out.fd,
      tickMs: TICK_MS,
    };
    const result = workerPool.run(task, { transferList: [...ports, control.port2] });
    result.catch(() => {}); // a failure is reported by stop() (allSettled), never unhandled
    workerResults.push(result);
  }

  const listenerControls: MessagePort[] = [];
  const listenerResults: Promise<ListenerResult>[] = [];
  let boundPort = o.port;
  let boundAddress = o.bind;
  let rcvbufGranted = 0;
  const cleanup = async () => {
    await Promise.allSettled([listenerPool.destroy(), workerPool.destroy()]);
    out.close();
  };
  try {
    for (let l = 0; l < L; l++) {
      const control = new MessageChannel();
      listenerControls.push(control.port1);
      const ports = channels[l].map((c) => c.port1);
      const task: ListenerTask = {
        index: l,
        bind: o.bind,
        // The first listener may take any free port (0); the others join it.
        port: boundPort,
        rcvbuf: o.rcvbuf,
        ports,
        control: control.port2,
        inFlight,
        queueLimit: o.queueLimit,
        live: listenerLive,
        rings: rings[l],
        batchDelayMs: o.batchDelay,
        kind,
      };
      const notice = waitNotice(control.port1);
      const result = listenerPool.run(task, { transferList: [...ports, control.port2] });
      result.catch(() => {}); // its failure is reported through the notice
      listenerResults.push(result);
      // A thread that dies before binding (it could not even load) must not leave us waiting.
      const n = await Promise.race([
        notice,
        result.then(
          (): ListenerNotice => ({ type: "error", message: "the listener ended before binding" }),
          (e: Error): ListenerNotice => ({ type: "error", message: e?.message ?? String(e) }),
        ),
      ]);
      if (n.type === "error") {
        throw new Error(
          `cannot listen on [${o.bind}]:${boundPort}: ${n.message}` +
            (n.code === "EADDRINUSE" ? " (is another receiver or netconsd using it?)" : ""),
        );
      }
      boundPort = n.port;
      boundAddress = n.address;
      rcvbufGranted = n.rcvbufBytes;
    }
  } catch (error) {
    for (const c of listenerControls) c.postMessage({ type: "stop" });
    await cleanup();
    throw error;
  }

  // A dual-stack (IPv6) socket sees IPv4 senders as ::ffff:a.b.c.d.
  const boundFamily6 = isIP(boundAddress) === 6;
  const family = boundFamily6 ? 6 : 4;
  // SO_REUSEPORT lets another program of the same user join our port and silently take a share
  // of the traffic (another receiver, a netconsd): refuse to run alongside one.
  const present = receivingSockets(boundPort, boundAddress);
  if (present > L) {
    for (const c of listenerControls) c.postMessage({ type: "stop" });
    await Promise.allSettled(listenerResults);
    await cleanup();
    // An ephemeral port can land in another program's SO_REUSEPORT group: take another one.
    if (o.port === 0 && (retries ?? 0) < 3)
      return startReceiver(options, hooks, (retries ?? 0) + 1);
    throw new Error(
      `cannot listen on [${o.bind}]:${boundPort}: ${present - L} other socket(s) are bound to ` +
        "that port with SO_REUSEPORT and would take a share of the traffic (another receiver or netconsd?)",
    );
  }
  const kernelStart = sampleKernel(boundPort, family);
  let kernelLast: KernelSample = kernelStart;
  const rmemMax = readRmemMax();

  const totals = () => {
    let read = 0;
    let queueDrops = 0;
    for (let l = 0; l < L; l++) {
      read += ll[l * LISTENER_LIVE.length];
      queueDrops += ll[l * LISTENER_LIVE.length + 2];
    }
    const w = (field: (typeof WORKER_LIVE)[number]) => {
      const at = WORKER_LIVE.indexOf(field);
      let sum = 0;
      let max = 0;
      for (let i = 0; i < W; i++) {
        const v = wl[i * WORKER_LIVE.length + at];
        sum += v;
        max = Math.max(max, v);
      }
      return { sum, max };
    };
    return { read, queueDrops, w };
  };

  let lastP99 = 0;
  let lastRead = 0;
  let lastAt = t0;
  let lastRate = 0;
  let kernelAt = performance.now();
  const snapshot = (): ReceiverProgress => {
    // Kernel counters cost a walk of the kernel's UDP table: read at most every 500 ms, however
    // often snapshot() is called.
    if (!stopping && performance.now() - kernelAt >= 500) {
      kernelLast = sampleKernel(boundPort, family);
      kernelAt = performance.now();
    }
    const t = totals();
    return {
      elapsedMs: Math.round(performance.now() - t0),
      packets: {
        read: t.read,
        received: t.w("datagrams").sum,
        malformed: t.w("malformed").sum,
      },
      messages: { extended: t.w("extended").sum, legacy: t.w("legacy").sum },
      ratePps: lastRate,
      drops: {
        kernel: kernelDelta(kernelStart, kernelLast).socketDrops,
        queue: t.queueDrops,
      },
      hosts: t.w("hosts").sum,
      p99Us: lastP99,
      queueMaxDepth: t.w("queueMaxDepth").max,
    };
  };

  // Progress: kernel sample, rate, and the interval p99 merged from the workers' histograms.
  let snapPending = false;
  const progressTimer = setInterval(async () => {
    kernelLast = sampleKernel(boundPort, family);
    kernelAt = performance.now();
    const now = performance.now();
    const read = totals().read;
    lastRate = Math.round(((read - lastRead) * 1000) / Math.max(1, now - lastAt));
    lastRead = read;
    lastAt = now;
    // The interval p99 costs an encode per worker and a merge here: only when someone watches.
    if (hooks.onProgress && !snapPending && !stopping) {
      snapPending = true;
      const replies = workerControls.map(
        (c) =>
          new Promise<string>((resolve) => {
            c.once("message", (m: { endToEnd: string }) => resolve(m.endToEnd));
            c.postMessage({ type: "snap" });
          }),
      );
      const encoded = await Promise.race([
        Promise.all(replies),
        new Promise<null>((r) => setTimeout(() => r(null), o.interval)),
      ]);
      snapPending = false;
      if (encoded) {
        const h = mergeEncoded(encoded);
        lastP99 = h.totalCount > 0 ? h.getValueAtPercentile(99) : 0;
        h.destroy();
      }
    }
    hooks.onProgress?.(snapshot());
  }, o.interval);
  progressTimer.unref();

  let stopping: Promise<ReceiverReport> | null = null;
  // The merged histograms, kept encoded: their percentile text is costly and rarely wanted.
  let encodedTotals: { endToEnd: string; queue: string; processing: string } | null = null;

  const stop = (
    reason = "stopped",
    end: { truth?: SenderTruthHost[] } = {},
  ): Promise<ReceiverReport> => {
    if (stopping) return stopping;
    stopping = (async () => {
      clearInterval(progressTimer);
      // While the sockets exist: closed sockets vanish from /proc/net/udp with their counts.
      const kernelEnd = sampleKernel(boundPort, family);
      for (const c of listenerControls) c.postMessage({ type: "stop" });
      // A crashed thread must not cost the report: its live figures stand in for its result.
      const listenerSettled = await Promise.allSettled(listenerResults);
      const listeners = listenerSettled.map((s, l) =>
        s.status === "fulfilled" ? s.value : listenerFromLive(l, ll, rcvbufGranted),
      );
      const failures = [
        ...listenerSettled.flatMap((s, l) =>
          s.status === "rejected"
            ? [`listener ${l}: ${(s.reason as Error)?.message ?? s.reason}`]
            : [],
        ),
      ];
      const ends = listenerSettled.filter((s) => s.status === "fulfilled").length;
      const truthByWorker: TruthHost[][] = Array.from({ length: W }, () => []);
      const mapped = boundFamily6
        ? (a: string) => (isIP(a) === 4 ? `::ffff:${a}` : a)
        : (a: string) => a;
      for (const h of end.truth ?? []) {
        const key = mapped(h.source);
        truthByWorker[workerForAddress(key, W)].push({
          key,
          firstSeq: h.firstSeq,
          lastSeq: h.lastSeq,
        });
      }
      workerControls.forEach((c, w) => {
        c.postMessage({ type: "finish", truth: truthByWorker[w], ends } satisfies FinishMessage);
      });
      const workerSettled = await Promise.allSettled(workerResults);
      const workers = workerSettled.map((s, w) =>
        s.status === "fulfilled" ? s.value : workerFromLive(w, wl),
      );
      workerSettled.forEach((s, w) => {
        if (s.status === "rejected") {
          failures.push(`worker ${w}: ${(s.reason as Error)?.message ?? s.reason}`);
        }
      });
      const durationMs = performance.now() - t0;
      for (const c of [...listenerControls, ...workerControls]) c.close();
      await cleanup();
      const e2e = mergeEncoded(workers.map((r) => r.histograms.endToEnd));
      const queue = mergeEncoded(workers.map((r) => r.histograms.queue));
      const processing = mergeEncoded(workers.map((r) => r.histograms.processing));
      encodedTotals = {
        endToEnd: encodeHistogram(e2e),
        queue: encodeHistogram(queue),
        processing: encodeHistogram(processing),
      };
      const report = buildReport({
        o,
        output,
        startedAt,
        durationMs,
        reason,
        address: boundAddress,
        port: boundPort,
        rcvbufGranted,
        rmemMax,
        kernel: kernelDelta(kernelStart, kernelEnd),
        kind,
        listeners,
        workers,
        failures,
        latency: {
          endToEnd: summarize(e2e),
          queue: summarize(queue),
          processing: summarize(processing, 1000),
        },
      });
      for (const h of [e2e, queue, processing]) h.destroy();
      return report;
    })();
    return stopping;
  };

  return {
    port: boundPort,
    address: boundAddress,
    snapshot,
    stop,
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

/** The read path for `requested`: native needs the addon (a clear start error without it). */
function listenerKind(requested: "auto" | ListenerKind, bind: string, port: number): ListenerKind {
  if (requested === "dgram") return "dgram";
  const loaded = loadListenerAddon();
  if (!("error" in loaded)) return "native";
  if (requested === "auto") return "dgram";
  throw new Error(`cannot listen on [${bind}]:${port}: --listener native needs ${loaded.error}`);
}

/** A crashed listener's result, from what it last published. */
function listenerFromLive(index: number, live: Float64Array, rcvbufBytes: number): ListenerResult {
  const at = index * LISTENER_LIVE.length;
  return {
    index,
    datagrams: live[at],
    bytes: live[at + 1],
    queueDrops: live[at + 2],
    batches: live[at + 3],
    firstUs: live[at + 4],
    lastUs: live[at + 5],
    rcvbufBytes,
    socketErrors: 0,
    truncated: 0,
  };
}

/** A crashed worker's result, from what it last published (sequence figures are lost). */
function workerFromLive(index: number, live: Float64Array): WorkerResult {
  const at = index * WORKER_LIVE.length;
  const v = (name: (typeof WORKER_LIVE)[number]) => live[at + WORKER_LIVE.indexOf(name)];
  const sequence = {} as SequenceCounters;
  for (const name of SEQUENCE_COUNTERS) sequence[name] = 0;
  sequence.hosts = v("hosts");
  return {
    index,
    counters: {
      datagrams: v("datagrams"),
      bytes: v("bytes"),
      malformed: v("malformed"),
      extended: v("extended"),
      legacy: v("legacy"),
    },
    sequence,
    reassembly: {},
    hostsTracked: v("hostsTracked"),
    queueMaxDepth: v("queueMaxDepth"),
    busyUs: v("busyUs"),
    missingEdges: 0,
    truthHostsUnseen: 0,
    histograms: { endToEnd: "", queue: "", processing: "" },
  };
}

function buildReport(input: {
  o: ResolvedReceiverOptions;
  output: OutputSpec;
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
  latency: ReceiverReport["latencyUs"];
  failures: string[];
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
    complete: input.failures.length === 0,
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
      output: formatOutputSpec(input.output),
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
    latencyUs: input.latency,
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
function activeSpanMs(listeners: ListenerResult[]): number {
  const heard = listeners.filter((l) => l.firstUs > 0);
  if (heard.length === 0) return 0;
  const first = Math.min(...heard.map((l) => l.firstUs));
  const last = Math.max(...heard.map((l) => l.lastUs));
  return Math.round((last - first) / 1000);
}

/** Writes the three HdrHistogram percentile files: FILE (end to end), FILE.queue, FILE.processing. */
export function writeHdrFiles(
  file: string,
  texts: { endToEnd: string; queue: string; processing: string },
): void {
  writeFileSync(file, texts.endToEnd);
  writeFileSync(`${file}.queue`, texts.queue);
  writeFileSync(`${file}.processing`, texts.processing);
}

/**
 * Starts a receiver and stops it on the first of: duration, idle, abort signal. Always resolves
 * with the report (the signal only makes it stop early).
 */
export async function runReceiver(
  options: RunOptions,
  hooks: {
    onProgress?: (p: ReceiverProgress) => void;
    onStarted?: (r: RunningReceiver) => void;
    signal?: AbortSignal;
    /** Called at stop time for the sender's truth (it is often written only when the sender ends). */
    truth?: () => SenderTruthHost[] | undefined;
  } = {},
): Promise<{ report: ReceiverReport; receiver: RunningReceiver }> {
  const { duration, idleExit, ...receiverOptions } = resolveReceiverOptions(options);
  const receiver = await startReceiver(receiverOptions, { onProgress: hooks.onProgress });
  hooks.onStarted?.(receiver);
  const reason = await new Promise<string>((resolve) => {
    let durationTimer: NodeJS.Timeout | undefined;
    let idleTimer: NodeJS.Timeout | undefined;
    const done = (why: string) => {
      clearTimeout(durationTimer);
      clearTimeout(idleTimer);
      hooks.signal?.removeEventListener("abort", onAbort);
      resolve(why);
    };
    const onAbort = () => done(String(hooks.signal?.reason ?? "signal"));
    if (hooks.signal?.aborted) return done(String(hooks.signal.reason ?? "signal"));
    hooks.signal?.addEventListener("abort", onAbort, { once: true });
    if (duration > 0) durationTimer = setTimeout(() => done("duration"), duration);
    if (idleExit > 0) {
      // Idle = nothing read for idleExitMs, counted from the start or the last datagram.
      let lastRead = -1;
      let lastChange = performance.now();
      const step = Math.min(100, idleExit);
      const poll = () => {
        const read = receiver.snapshot().packets.read;
        const now = performance.now();
        if (read !== lastRead) {
          lastRead = read;
          lastChange = now;
        } else if (now - lastChange >= idleExit) {
          return done("idle");
        }
        idleTimer = setTimeout(poll, step);
      };
      poll();
    }
  });
  const report = await receiver.stop(reason, { truth: hooks.truth?.() });
  return { report, receiver };
}
