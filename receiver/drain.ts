/**
 * Stop and drain: the listeners close their sockets and rings, then the workers read what is
 * left, take the sender's truth (each host to the worker that owns it) and return their figures.
 * A thread that crashed does not cost the report: its live figures stand in for its result and
 * the failure is listed.
 */
import { isIP } from "node:net";
import { listenerFromLive, workerFromLive } from "./build-report.ts";
import { workerForAddress } from "./route.ts";
import type {
  FinishMessage,
  ListenerResult,
  StopMessage,
  TruthHost,
  WorkerResult,
} from "./thread-messages.ts";
import type { Topology } from "./threads.ts";

/** What the sender says one host sent (its source address as the sender bound it). */
export interface SenderTruthHost {
  source: string;
  firstSeq: number;
  lastSeq: number;
}

export interface Drained {
  listeners: ListenerResult[];
  workers: WorkerResult[];
  failures: string[];
  /** False when a thread's figures come from its live counters. */
  complete: boolean;
}

const why = (reason: unknown) => (reason as Error)?.message ?? String(reason);

/** Each truth host keyed as this receiver sees its address, on the worker that owns it. */
function truthByWorker(
  truth: SenderTruthHost[],
  workers: number,
  dualStack: boolean,
): TruthHost[][] {
  const out: TruthHost[][] = Array.from({ length: workers }, () => []);
  // A dual-stack (IPv6) socket sees IPv4 senders as ::ffff:a.b.c.d.
  const key = (a: string) => (dualStack && isIP(a) === 4 ? `::ffff:${a}` : a);
  for (const h of truth) {
    const k = key(h.source);
    out[workerForAddress(k, workers)].push({ key: k, firstSeq: h.firstSeq, lastSeq: h.lastSeq });
  }
  return out;
}

export async function drainThreads(
  threads: Topology,
  input: { truth: SenderTruthHost[]; dualStack: boolean; rcvbufGranted: number },
): Promise<Drained> {
  for (const c of threads.listenerControls) c.postMessage({ type: "stop" } satisfies StopMessage);
  const listenerSettled = await Promise.allSettled(threads.listenerResults);
  const failures: string[] = [];
  const listeners = listenerSettled.map((s, l) => {
    if (s.status === "fulfilled") return s.value;
    failures.push(`listener ${l}: ${why(s.reason)}`);
    return listenerFromLive(l, threads.memory.listenerLive, input.rcvbufGranted);
  });
  const ends = listenerSettled.filter((s) => s.status === "fulfilled").length;
  const W = threads.workerControls.length;
  const truth = truthByWorker(input.truth, W, input.dualStack);
  threads.workerControls.forEach((c, w) => {
    c.postMessage({ type: "finish", truth: truth[w], ends } satisfies FinishMessage);
  });
  const workerSettled = await Promise.allSettled(threads.workerResults);
  const workers = workerSettled.map((s, w) => {
    if (s.status === "fulfilled") return s.value;
    failures.push(`worker ${w}: ${why(s.reason)}`);
    return workerFromLive(w, threads.memory.workerLive);
  });
  const complete = failures.length === 0;
  for (const w of workers) {
    if (w.sinkError !== null) failures.push(`worker ${w.index}: output failed: ${w.sinkError}`);
  }
  for (const c of [...threads.listenerControls, ...threads.workerControls]) c.close();
  await threads.destroy();
  return { listeners, workers, failures, complete };
}
