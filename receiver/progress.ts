/**
 * The receiver's live progress, read in the main thread while the run goes on: totals from the
 * threads' live figure rows, the kernel's drop counters (sampled at most every 500 ms), the read
 * rate per interval and the interval's end-to-end p99, which the workers hand over on request
 * (a "snap" message) as encoded histograms. Also routes the workers' other notices (a failed
 * sink) to the caller.
 */
import type { MessagePort } from "node:worker_threads";
import { mergeEncoded } from "../blaster/latency.ts";
import { type KernelSample, kernelDelta, sampleKernel } from "./kernel-drops.ts";
import {
  LISTENER_LIVE,
  LISTENER_LIVE_SLOTS,
  liveRow,
  WORKER_LIVE,
  WORKER_LIVE_SLOTS,
  type WorkerLiveField,
} from "./live-figures.ts";
import type { SnapRequest, WorkerNotice } from "./thread-messages.ts";
import type { SharedMemory } from "./threads.ts";

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

/** Kernel counters cost a walk of the kernel's UDP table: read at most this often. */
const KERNEL_SAMPLE_MS = 500;

export class LiveProgress {
  private readonly workerRows: Float64Array[];
  private readonly listenerRows: Float64Array[];
  private readonly t0: number;
  private kernelLast: KernelSample;
  private kernelAt = performance.now();
  private lastP99 = 0;
  private lastRead = 0;
  private lastAt: number;
  private lastRate = 0;
  private snapPending = false;
  private snapWaiters: ((encoded: string) => void)[][];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly controls: MessagePort[];
  private readonly kernel: { port: number; family: 4 | 6; start: KernelSample };

  constructor(
    memory: SharedMemory,
    controls: MessagePort[],
    kernel: { port: number; family: 4 | 6; start: KernelSample },
    onSinkError: (worker: number, message: string) => void,
  ) {
    this.controls = controls;
    this.kernel = kernel;
    this.workerRows = controls.map((_, w) => liveRow(memory.workerLive, w, WORKER_LIVE_SLOTS));
    this.listenerRows = memory.rings.map((_, l) =>
      liveRow(memory.listenerLive, l, LISTENER_LIVE_SLOTS),
    );
    this.t0 = performance.now();
    this.lastAt = this.t0;
    this.kernelLast = kernel.start;
    this.snapWaiters = controls.map(() => []);
    controls.forEach((port, w) => {
      port.on("message", (m: WorkerNotice) => {
        if (m.type === "snap") this.snapWaiters[w].shift()?.(m.endToEnd);
        else if (m.type === "sink-error") onSinkError(w, m.message);
      });
    });
  }

  /** Calls `onProgress` every `intervalMs` (with the interval p99 only when it is given). */
  start(intervalMs: number, onProgress?: (p: ReceiverProgress) => void): void {
    this.timer = setInterval(() => this.interval(intervalMs, onProgress), intervalMs);
    this.timer.unref();
  }

  /** Stops sampling: the sockets are about to close and vanish from the kernel's tables. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** The kernel's drop counters as last sampled. */
  kernelNow(): KernelSample {
    return this.kernelLast;
  }

  /** Datagrams read by all listeners so far. */
  read(): number {
    let read = 0;
    for (const row of this.listenerRows) read += row[LISTENER_LIVE.datagrams];
    return read;
  }

  snapshot(): ReceiverProgress {
    if (!this.stopped && performance.now() - this.kernelAt >= KERNEL_SAMPLE_MS) this.sampleKernel();
    let queueDrops = 0;
    for (const row of this.listenerRows) queueDrops += row[LISTENER_LIVE.queueDrops];
    const sum = (field: WorkerLiveField) =>
      this.workerRows.reduce((s, row) => s + row[WORKER_LIVE[field]], 0);
    const max = (field: WorkerLiveField) =>
      this.workerRows.reduce((m, row) => Math.max(m, row[WORKER_LIVE[field]]), 0);
    return {
      elapsedMs: Math.round(performance.now() - this.t0),
      packets: { read: this.read(), received: sum("datagrams"), malformed: sum("malformed") },
      messages: { extended: sum("extended"), legacy: sum("legacy") },
      ratePps: this.lastRate,
      drops: {
        kernel: kernelDelta(this.kernel.start, this.kernelLast).socketDrops,
        queue: queueDrops,
      },
      hosts: sum("hosts"),
      p99Us: this.lastP99,
      queueMaxDepth: max("queueMaxDepth"),
    };
  }

  private sampleKernel(): void {
    this.kernelLast = sampleKernel(this.kernel.port, this.kernel.family);
    this.kernelAt = performance.now();
  }

  private async interval(
    intervalMs: number,
    onProgress?: (p: ReceiverProgress) => void,
  ): Promise<void> {
    this.sampleKernel();
    const now = performance.now();
    const read = this.read();
    this.lastRate = Math.round(((read - this.lastRead) * 1000) / Math.max(1, now - this.lastAt));
    this.lastRead = read;
    this.lastAt = now;
    // The interval p99 costs an encode per worker and a merge here: only when someone watches.
    if (onProgress && !this.snapPending && !this.stopped) {
      this.snapPending = true;
      const replies = this.controls.map(
        (c, w) =>
          new Promise<string>((resolve) => {
            this.snapWaiters[w].push(resolve);
            c.postMessage({ type: "snap" } satisfies SnapRequest);
          }),
      );
      const encoded = await Promise.race([
        Promise.all(replies),
        new Promise<null>((r) => setTimeout(() => r(null), intervalMs)),
      ]);
      this.snapPending = false;
      // Replies that missed the interval find no waiter (and are dropped) instead of answering
      // the next request.
      for (const waiters of this.snapWaiters) waiters.length = 0;
      if (encoded) {
        const h = mergeEncoded(encoded);
        this.lastP99 = h.totalCount > 0 ? h.getValueAtPercentile(99) : 0;
        h.destroy();
      }
    }
    onProgress?.(this.snapshot());
  }
}
