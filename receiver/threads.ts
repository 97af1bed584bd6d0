/**
 * The receiver's thread topology: --listeners listener threads and --workers worker threads
 * (piscina pools with one long-lived task per thread), a shared ring per (listener, worker) pair,
 * the workers' doorbells and queue counters, and the live figure rows. Starting the workers;
 * the listeners are started one by one by bind.ts.
 */
import { MessageChannel, type MessagePort } from "node:worker_threads";
import { Piscina } from "piscina";
import type { CoreOptions } from "./core.ts";
import { createLiveMemory, LISTENER_LIVE_SLOTS, WORKER_LIVE_SLOTS } from "./live-figures.ts";
import type { ListenerKind } from "./native-listener.ts";
import type { ResolvedReceiverOptions } from "./options.ts";
import { createRing, type Ring } from "./ring.ts";
import { openOutput } from "./sinks.ts";
import type { ListenerResult, ListenerTask, WorkerResult, WorkerTask } from "./thread-messages.ts";
import { createBells } from "./wake.ts";

/** How often workers expire timed state and flush sinks. */
const TICK_MS = 50;

/** The memory every thread shares. */
export interface SharedMemory {
  /** rings[listener][worker]. */
  rings: Ring[][];
  /** Int32 per worker: datagrams reserved by listeners and not yet processed. */
  inFlight: SharedArrayBuffer;
  bells: SharedArrayBuffer;
  workerLive: SharedArrayBuffer;
  listenerLive: SharedArrayBuffer;
}

export interface Topology {
  memory: SharedMemory;
  workerControls: MessagePort[];
  workerResults: Promise<WorkerResult>[];
  listenerControls: MessagePort[];
  listenerResults: Promise<ListenerResult>[];
  /** Starts listener `index` on `port`; its control port is added to listenerControls. */
  startListener(
    index: number,
    port: number,
  ): { control: MessagePort; result: Promise<ListenerResult> };
  /** Ends every thread and closes the output. */
  destroy(): Promise<void>;
}

export function startThreads(o: ResolvedReceiverOptions, kind: ListenerKind): Topology {
  const L = o.listeners;
  const W = o.workers;
  const memory: SharedMemory = {
    rings: Array.from({ length: L }, () =>
      Array.from({ length: W }, () => createRing(o.ringBytes)),
    ),
    inFlight: new SharedArrayBuffer(4 * W),
    bells: createBells(W),
    workerLive: createLiveMemory(W, WORKER_LIVE_SLOTS),
    listenerLive: createLiveMemory(L, LISTENER_LIVE_SLOTS),
  };
  const out = openOutput(o.output);
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
  const core: CoreOptions = {
    maxMessageBytes: o.maxMessageBytes,
    fragmentTimeoutMs: o.fragTimeout,
    sequence: {
      window: o.seqWindow,
      msgTimeoutMs: o.msgTimeout,
      oosTimeoutMs: o.oosTimeout,
      // Hosts are spread over the workers by address hash.
      maxHosts: Math.max(1, Math.ceil(o.maxHosts / W)),
      hostIdleMs: o.hostIdle,
    },
  };

  const workerControls: MessagePort[] = [];
  const workerResults: Promise<WorkerResult>[] = [];
  for (let w = 0; w < W; w++) {
    const control = new MessageChannel();
    workerControls.push(control.port1);
    const task: WorkerTask = {
      index: w,
      rings: memory.rings.map((row) => row[w]),
      control: control.port2,
      inFlight: memory.inFlight,
      live: memory.workerLive,
      bells: memory.bells,
      core,
      output: o.output,
      outputFd: out.fd,
      tickMs: TICK_MS,
    };
    const result = workerPool.run(task, { transferList: [control.port2] });
    result.catch(() => {}); // a failure is reported by stop() (allSettled), never unhandled
    workerResults.push(result);
  }

  const listenerControls: MessagePort[] = [];
  const listenerResults: Promise<ListenerResult>[] = [];
  return {
    memory,
    workerControls,
    workerResults,
    listenerControls,
    listenerResults,
    startListener(index, port) {
      const control = new MessageChannel();
      listenerControls.push(control.port1);
      const task: ListenerTask = {
        index,
        bind: o.bind,
        port,
        rcvbuf: o.rcvbuf,
        control: control.port2,
        inFlight: memory.inFlight,
        queueLimit: o.queueLimit,
        live: memory.listenerLive,
        bells: memory.bells,
        rings: memory.rings[index],
        batchDelayMs: o.batchDelay,
        kind,
      };
      const result = listenerPool.run(task, { transferList: [control.port2] });
      result.catch(() => {}); // its failure is reported through the bind notice or stop()
      listenerResults.push(result);
      return { control: control.port1, result };
    },
    async destroy() {
      await Promise.allSettled([listenerPool.destroy(), workerPool.destroy()]);
      out.close();
    },
  };
}
