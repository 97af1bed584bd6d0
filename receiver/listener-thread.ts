/**
 * A receiver listener: one long-lived piscina task per thread, owning one UDP socket bound with
 * SO_REUSEPORT (so the kernel spreads flows over the listeners, as with netconsd's -l). Each
 * datagram goes to the worker chosen by a hash of its source address and appended to the shared
 * ring of that (listener, worker) pair; the worker is told about each batch when it reaches 64 KiB
 * or `batchDelayMs` after its first datagram.
 * A worker with `queueLimit` datagrams in flight, or whose ring is full, gets no more: further
 * datagrams for it are counted as queue drops (bounded memory instead of netconsd's unbounded
 * queues).
 * Two ways to read the socket: Node's dgram (one 'message' event per datagram), or, where the
 * native addon is built, recvmmsg batches (native-listener.ts); both feed the same hand-off.
 */
import dgram from "node:dgram";
import type { MessagePort } from "node:worker_threads";
import { monotonicUs } from "../blaster/stamp.ts";
import { fastMonotonicClock, type Ring, RingWriter, workerForAddress } from "./batch.ts";
import { type ListenerKind, loadListenerAddon, runNativeListener } from "./native-listener.ts";

/** A batch this big is handed over at once rather than after batchDelayMs. */
const FLUSH_BYTES = 64 * 1024;

/** Live figures per listener in the shared Float64Array, in this order. */
export const LISTENER_LIVE = [
  "datagrams",
  "bytes",
  "queueDrops",
  "batches",
  "firstUs",
  "lastUs",
] as const;

export interface ListenerTask {
  index: number;
  bind: string;
  port: number;
  /** Requested SO_RCVBUF in bytes, 0 = the system default. */
  rcvbuf: number;
  /** One port per worker, in worker order. */
  ports: MessagePort[];
  control: MessagePort;
  inFlight: SharedArrayBuffer;
  queueLimit: number;
  live: SharedArrayBuffer;
  /** One ring per worker, in worker order (shared with that worker). */
  rings: Ring[];
  /** Longest a datagram waits in a listener's batch before it is handed over, ms. */
  batchDelayMs: number;
  /** How to read the socket (the main thread resolved auto). */
  kind: ListenerKind;
}

/** What a listener counts as it reads; firstUs and lastUs are receive times (µs, CLOCK_MONOTONIC)
 * of its first and last datagram, 0 before the first. */
export interface ListenerCounts {
  datagrams: number;
  bytes: number;
  queueDrops: number;
  batches: number;
  firstUs: number;
  lastUs: number;
}

export interface ListenerResult extends ListenerCounts {
  index: number;
  rcvbufBytes: number;
  socketErrors: number;
  /** Datagrams longer than the native path's slot, handed on cut (always 0 on the dgram path). */
  truncated: number;
}

export type ListenerNotice =
  | { type: "bound"; address: string; port: number; rcvbufBytes: number }
  | { type: "error"; message: string; code?: string };

/** The listener -> workers hand-off both read paths drive. */
export interface HandOff {
  writers: RingWriter[];
  inFlight: Int32Array;
  clock: () => number;
  counts: ListenerCounts;
  /** Hands one worker's batch over. */
  flush(w: number): void;
  /** Hands every non-empty batch over and publishes the live figures. */
  flushAll(): void;
  /** After the socket is closed: the last batches, the end notice to each worker, the result. */
  end(socket: { rcvbufBytes: number; socketErrors: number; truncated: number }): ListenerResult;
}

function createHandOff(task: ListenerTask): HandOff {
  const inFlight = new Int32Array(task.inFlight);
  const live = new Float64Array(
    task.live,
    task.index * LISTENER_LIVE.length * 8,
    LISTENER_LIVE.length,
  );
  const writers = task.rings.map((ring) => new RingWriter(ring));
  const counts: ListenerCounts = {
    datagrams: 0,
    bytes: 0,
    queueDrops: 0,
    batches: 0,
    firstUs: 0,
    lastUs: 0,
  };
  const flush = (w: number) => {
    const writer = writers[w];
    if (writer.count === 0) return;
    Atomics.add(inFlight, w, writer.count);
    task.ports[w].postMessage(writer.take());
    counts.batches++;
  };
  const flushAll = () => {
    for (let w = 0; w < writers.length; w++) flush(w);
    live[0] = counts.datagrams;
    live[1] = counts.bytes;
    live[2] = counts.queueDrops;
    live[3] = counts.batches;
    live[4] = counts.firstUs;
    live[5] = counts.lastUs;
  };
  return {
    writers,
    inFlight,
    clock: fastMonotonicClock(monotonicUs),
    counts,
    flush,
    flushAll,
    end: (socket) => {
      flushAll();
      // The workers close the ports once they have read this (closing here could lose it).
      for (const port of task.ports) port.postMessage({ closed: true });
      return { index: task.index, ...counts, ...socket };
    },
  };
}

export default function runListener(task: ListenerTask): Promise<ListenerResult> {
  const hand = createHandOff(task);
  if (task.kind === "native") {
    const loaded = loadListenerAddon();
    // The main thread checked it already; this only fails if the file changed in between.
    if ("error" in loaded) return Promise.reject(new Error(loaded.error));
    return runNativeListener(task, loaded.addon, hand, FLUSH_BYTES);
  }
  const { writers, inFlight, clock, counts, flush } = hand;
  const workers = task.rings.length;
  const limit = task.queueLimit;
  const batchDelayMs = task.batchDelayMs;
  let flushScheduled = false;
  let rcvbufBytes = 0;
  let socketErrors = 0;
  const flushAll = () => {
    flushScheduled = false;
    hand.flushAll();
  };

  const family = task.bind.includes(":") ? "udp6" : "udp4";
  const socket = dgram.createSocket({
    type: family,
    reuseAddr: false,
    reusePort: true,
    ...(task.rcvbuf > 0 ? { recvBufferSize: task.rcvbuf } : {}),
  });

  socket.on("message", (msg, rinfo) => {
    const recvUs = clock();
    if (counts.firstUs === 0) counts.firstUs = recvUs;
    counts.lastUs = recvUs;
    counts.datagrams++;
    counts.bytes += msg.length;
    const address = rinfo.address;
    const w = workers === 1 ? 0 : workerForAddress(address, workers);
    const writer = writers[w];
    if (Atomics.load(inFlight, w) + writer.count >= limit) {
      counts.queueDrops++;
      return;
    }
    if (!writer.add(msg, address, rinfo.port, recvUs)) {
      counts.queueDrops++; // the ring is full: the worker is that far behind
      return;
    }
    if (writer.pending >= FLUSH_BYTES) flush(w); // keep a busy worker fed without waiting
    if (!flushScheduled) {
      flushScheduled = true;
      // Each batch costs a postMessage on both sides (tens of µs), so at moderate rates waiting a
      // little fills it: batchDelayMs trades that much latency for CPU. 0 = flush after this
      // burst of socket reads.
      if (batchDelayMs > 0) setTimeout(flushAll, batchDelayMs);
      else setImmediate(flushAll);
    }
  });

  return new Promise<ListenerResult>((resolve, reject) => {
    let bound = false;
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (!bound) {
        task.control.postMessage({ type: "error", message: error.message, code: error.code });
        task.control.close();
        for (const port of task.ports) port.close();
        reject(error);
      } else {
        socketErrors++; // a receive error on a bound socket: counted, the socket keeps reading
      }
    });
    socket.bind({ address: task.bind, port: task.port, exclusive: true }, () => {
      bound = true;
      rcvbufBytes = socket.getRecvBufferSize();
      const a = socket.address();
      task.control.postMessage({
        type: "bound",
        address: a.address,
        port: a.port,
        rcvbufBytes,
      } satisfies ListenerNotice);
    });
    task.control.on("message", (m: { type: string }) => {
      if (m.type !== "stop") return;
      socket.close(() => resolve(hand.end({ rcvbufBytes, socketErrors, truncated: 0 })));
    });
  });
}
