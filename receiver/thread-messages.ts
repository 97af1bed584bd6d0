/**
 * Everything the receiver's threads say to each other: the task each thread starts with, the
 * messages on the control ports (main <-> listener, main <-> worker), and what each thread returns
 * at the end. Datagrams themselves travel through shared rings (ring.ts), not messages.
 */
import type { MessagePort } from "node:worker_threads";
import type { CoreOptions } from "./core.ts";
import type { ListenerKind } from "./native-listener.ts";
import type { Ring } from "./ring.ts";
import type { SequenceCounters } from "./sequence.ts";
import type { OutputSpec } from "./sinks.ts";

export interface ListenerTask {
  index: number;
  bind: string;
  port: number;
  /** Requested SO_RCVBUF in bytes, 0 = the system default. */
  rcvbuf: number;
  control: MessagePort;
  /** Int32Array per worker: datagrams reserved by listeners and not yet processed. */
  inFlight: SharedArrayBuffer;
  queueLimit: number;
  /** Live figures (live-figures.ts LISTENER_LIVE rows). */
  live: SharedArrayBuffer;
  /** Worker doorbells (wake.ts). */
  bells: SharedArrayBuffer;
  /** One ring per worker, in worker order (shared with that worker). */
  rings: Ring[];
  /** Under load, the longest the native listener naps so that one read takes several datagrams. */
  batchDelayMs: number;
  /** How to read the socket (the main thread resolved auto). */
  kind: ListenerKind;
}

/** Listener -> main, once: the socket is bound (or could not be). */
export type ListenerNotice =
  | { type: "bound"; address: string; port: number; rcvbufBytes: number }
  | { type: "error"; message: string; code?: string };

/** Main -> listener: close the socket, hand the last records over, close the rings. */
export interface StopMessage {
  type: "stop";
}

/** What a listener counts as it reads. */
export interface ListenerCounts {
  datagrams: number;
  bytes: number;
  queueDrops: number;
  /** Publishes that made records visible to a worker. */
  batches: number;
  /** Receive times (µs, CLOCK_MONOTONIC) of its first and last datagram, 0 before the first. */
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

export interface WorkerTask {
  index: number;
  /** One ring per listener, in listener order (shared with that listener). */
  rings: Ring[];
  control: MessagePort;
  inFlight: SharedArrayBuffer;
  /** Live figures (live-figures.ts WORKER_LIVE rows). */
  live: SharedArrayBuffer;
  bells: SharedArrayBuffer;
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
  /** Closed rings to wait for: one per listener that stopped cleanly (a crashed one closes none). */
  ends: number;
}

/** Main -> worker: hand over this interval's end-to-end histogram (for the live p99). */
export interface SnapRequest {
  type: "snap";
}

export type WorkerControl = FinishMessage | SnapRequest;

/** Worker -> main. */
export type WorkerNotice =
  | { type: "snap"; endToEnd: string }
  /** The sink failed (e.g. EPIPE on stdout): the run should stop; counting goes on. */
  | { type: "sink-error"; message: string };

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
  /** The sink's failure, if it failed. */
  sinkError: string | null;
  histograms: { endToEnd: string; queue: string; processing: string };
}
