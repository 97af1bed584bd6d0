/**
 * The send loop of one shard of the hosts (global host h belongs to shard h % shards), on a
 * worker thread or the main thread: builds batches (blaster/batch-builder.ts), paces them
 * (blaster/pacing.ts, sleeping in between through blaster/idle.ts), runs the storm
 * (blaster/storm.ts), sends through the impairment plan and a transport (blaster/batch-send.ts).
 * Live totals go to the main thread through shared memory (one row of counters per shard,
 * written after every batch); the main thread stops the loop by setting a flag in that memory.
 *
 * Per batch: generate up to `batch` datagrams into one slab, make sure their hosts can send
 * (lazy socket opening), send, flush. Per datagram there is no allocation on the common path.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { isMainThread } from "node:worker_threads";
import { BatchBuilder } from "./batch-builder.ts";
import { BatchSend } from "./batch-send.ts";
import type { ContentOptions } from "./content.ts";
import { type Counters, zeroCounters } from "./counters.ts";
import { HostTable } from "./host-table.ts";
import { Idler } from "./idle.ts";
import type { ImpairmentConfig, ImpairmentEvent } from "./impairments.ts";
import { LATENESS_SLOTS, recordLateness } from "./lateness-buckets.ts";
import { MessageWriter } from "./message-writer.ts";
import { DEFAULT_PACING_QUANTUM_US, Pacer } from "./pacing.ts";
import { Schedule, type ScheduleConfig } from "./schedule.ts";
import { sourceAddress } from "./sources.ts";
import { monotonicUs } from "./stamp.ts";
import { Storm } from "./storm.ts";
import { type GsoMode, loadTransport, type Transport, type TransportOptions } from "./transport.ts";

export interface ShardTask {
  shard: number;
  shards: number;
  content: ContentOptions;
  transport: string;
  transportOptions: TransportOptions;
  /** This shard's share of the schedule. */
  schedule: ScheduleConfig;
  /** Messages this shard sends at most (-1: no limit). */
  maxMessages: number;
  /** Run time limit in ms (0: none). */
  durationMs: number;
  impairments: ImpairmentConfig | null;
  /** Storm start in ms after the run start (-1: no storm). */
  stormAtMs: number;
  /** Return per-host truth. */
  truth: boolean;
  /** Datagrams per batch at most. */
  batch: number;
  shared: SharedArrayBuffer;
  /**
   * Paced runs: the shortest sleep between two batches (µs; default 200). Longer quanta cost
   * fewer wake-ups per packet and add up to one quantum of lateness.
   */
  pacingQuantumUs?: number;
  /** UDP GSO for the transports that offer it (udp-batch); default "auto". */
  gso?: GsoMode;
}

export interface HostTruth {
  host: number;
  source: string | null;
  format: "extended" | "legacy";
  firstSeq: number;
  lastSeq: number;
  messages: number;
  datagrams: number;
  storm: boolean;
}

export interface ShardResult {
  counters: Counters;
  /** Lateness of actual against intended send time (µs), hdr compressed base64; "" unpaced. */
  lateness: string;
  /** Monotonic µs of the first send, and of the end of the send loop. */
  startUs: number;
  endUs: number;
  expected: { messagesDelivered: number; missing: number; duplicates: number; outOfOrder: number };
  hosts?: HostTruth[];
  events?: ImpairmentEvent[];
  stopped: "count" | "duration" | "signal" | "hosts";
}

/** Counters every shard publishes live, in this order, in its row of the shared memory. */
export const LIVE_COUNTERS = [
  "sent",
  "errors",
  "bytes",
  "messages",
  "datagrams",
  "fragmentsSent",
  "lost",
  "duplicated",
  "reordered",
] as const;

/** Shared memory: Int32 control words, then one Float64 (start time), then counter rows. */
export const CONTROL = { stop: 0, ready: 1, go: 2 } as const;
const CONTROL_BYTES = 16;

export function sharedLayout(shards: number): SharedArrayBuffer {
  return new SharedArrayBuffer(
    CONTROL_BYTES + 8 * (1 + shards * (LIVE_COUNTERS.length + LATENESS_SLOTS)),
  );
}

/** The control words, the start time, the counter rows, then one lateness row per shard. */
export function sharedViews(shared: SharedArrayBuffer) {
  const slots = (shared.byteLength - CONTROL_BYTES) / 8 - 1;
  const shards = slots / (LIVE_COUNTERS.length + LATENESS_SLOTS);
  const rowsAt = CONTROL_BYTES + 8;
  const latenessAt = rowsAt + 8 * shards * LIVE_COUNTERS.length;
  return {
    control: new Int32Array(shared, 0, 4),
    startUs: new Float64Array(shared, CONTROL_BYTES, 1),
    rows: new Float64Array(shared, rowsAt, shards * LIVE_COUNTERS.length),
    lateness: new Float64Array(shared, latenessAt, shards * LATENESS_SLOTS),
  };
}

/** The longest the event loop waits for a turn while the loop runs (µs). */
const YIELD_EVERY_US = isMainThread ? 1000 : 10_000;

export async function runShard(task: ShardTask): Promise<ShardResult> {
  const { control, startUs: sharedStart, rows, lateness: latenessRows } = sharedViews(task.shared);
  const row = task.shard * LIVE_COUNTERS.length;
  const latenessRow = task.shard * LATENESS_SLOTS;
  // Datagrams per host are only needed by the impairment plan and the truth (4 bytes a host).
  const countDatagrams = task.impairments !== null || task.truth;
  const hosts = new HostTable(task.content, task.shard, task.shards, countDatagrams);
  const builder = new BatchBuilder(
    hosts,
    new MessageWriter(task.content),
    task.batch,
    countDatagrams,
  );
  const schedule = new Schedule(task.schedule);
  const transport: Transport = await (await loadTransport(task.transport)).create({
    ...task.transportOptions,
    gso: task.gso ?? task.transportOptions.gso ?? "auto",
  });
  const counters: Counters = zeroCounters([
    ...LIVE_COUNTERS,
    "messagesExtended",
    "messagesLegacy",
    "stormMessages",
  ]);
  const sender = new BatchSend(transport, builder, task.impairments, counters);
  const plan = sender.plan;

  // Loaded only for a paced run (see blaster/latency.ts: the library costs memory per thread).
  const latency = schedule.paced ? await import("./latency.ts") : null;
  const lateness = latency ? latency.newHistogram() : null;

  // performance.now() is CLOCK_MONOTONIC too, and cheaper than hrtime.bigint(): one offset.
  const offsetUs = monotonicUs() - performance.now() * 1000;
  const nowUs = () => offsetUs + performance.now() * 1000;

  // Start together with the other shards, so their schedules line up.
  Atomics.add(control, CONTROL.ready, 1);
  Atomics.notify(control, CONTROL.ready);
  // Polled (startup only): Atomics.waitAsync is not in the ES2023 lib this project targets.
  while (Atomics.load(control, CONTROL.go) === 0) await sleep(1);
  const t0 = sharedStart[0];
  const idle = new Idler(control, CONTROL.stop, nowUs, YIELD_EVERY_US);
  // CPU time of this thread in the send loop: a cost per packet that contention does not skew.
  // (process.threadCpuUsage is Node >= 23.9; the project pins 24, older ones report 0.)
  const threadCpu = process.threadCpuUsage?.bind(process);
  const cpuStart = threadCpu?.();
  // Wait for the common start precisely (woken early only by a stop).
  await idle.until(t0);
  const endUs = task.durationMs > 0 ? t0 + task.durationMs * 1000 : Number.POSITIVE_INFINITY;
  const storm = new Storm(
    hosts,
    task.stormAtMs >= 0 ? t0 + task.stormAtMs * 1000 : Number.POSITIVE_INFINITY,
  );
  const pacer = schedule.paced
    ? new Pacer(schedule, t0, task.pacingQuantumUs ?? DEFAULT_PACING_QUANTUM_US)
    : null;
  let firstSendUs = 0;
  let stopped: ShardResult["stopped"] = "duration";
  const max = task.maxMessages < 0 ? Number.POSITIVE_INFINITY : task.maxMessages;

  const publish = () => {
    const t = transport.counters;
    counters.sent = t.sent;
    counters.errors = t.errors;
    counters.bytes = t.bytes;
    if (plan) {
      counters.lost = plan.truth.lost;
      counters.duplicated = plan.truth.duplicated;
      counters.reordered = plan.truth.reordered;
    }
    for (let i = 0; i < LIVE_COUNTERS.length; i++) rows[row + i] = counters[LIVE_COUNTERS[i]];
  };

  while (true) {
    if (Atomics.load(control, CONTROL.stop) !== 0) {
      stopped = "signal";
      break;
    }
    if (counters.messages >= max) {
      stopped = "count";
      break;
    }
    if (builder.liveHosts === 0) {
      stopped = "hosts";
      break;
    }
    let now = nowUs();
    if (now >= endUs) {
      stopped = "duration";
      break;
    }
    storm.startIfDue(now, hosts);
    let due = task.batch; // unpaced, or a storm (a burst: no pacing)
    if (pacer && !storm.active) {
      due = pacer.due(now, task.batch);
      if (due === 0) {
        // Nothing due: sleep until the next batch is worth sending (never spin).
        await idle.until(Math.min(pacer.wakeUs(), endUs));
        continue;
      }
    }
    const n = builder.fill(due, max, now, storm, pacer, nowUs, counters);
    if (n === 0) continue;

    const opening = transport.prepare(builder.hostOf, n);
    if (opening) await opening;
    now = nowUs();
    if (firstSendUs === 0) firstSendUs = now;
    sender.send(n);
    if (lateness) {
      // Every datagram's actual send time, interpolated between the batch's first and last send
      // (two clock reads per batch instead of one per datagram).
      const doneUs = nowUs();
      const step = (doneUs - now) / n;
      const intendedOf = builder.intendedOf;
      for (let d = 0; d < n; d++) {
        const late = now + step * (d + 1) - intendedOf[d];
        const lateUs = late > 0 ? Math.round(late) : 0;
        lateness.recordValue(lateUs);
        // The live row the main thread reads interval percentiles from (blast --ndjson).
        recordLateness(latenessRows, latenessRow, lateUs);
      }
    }
    const flushing = transport.flush();
    if (flushing) await flushing;
    publish();
    // Let I/O, timers and signals through now and then (not once per batch).
    const turn = idle.breathe(nowUs());
    if (turn) await turn;
  }

  // The run's end: the duration's end, the stop, or right after the last batch of a --count.
  const loopEndUs = nowUs();
  const cpu = cpuStart && threadCpu ? threadCpu(cpuStart) : { user: 0, system: 0 };
  counters.cpuUs = cpu.user + cpu.system;
  // Whatever the reorder plan still holds goes out now (recorded in the truth as such).
  if (plan) {
    sender.finish();
    const flushing = transport.flush();
    if (flushing) await flushing;
  }
  await transport.close();
  publish();
  // The rest of the transport's counters (opened sockets, errors by code...).
  for (const [key, value] of Object.entries(transport.counters)) counters[key] = value;

  const expected = plan
    ? { ...plan.truth.expected }
    : {
        messagesDelivered: counters.messagesExtended,
        missing: 0,
        duplicates: 0,
        outOfOrder: 0,
      };
  const result: ShardResult = {
    counters,
    lateness: latency && lateness ? latency.encodeHistogram(lateness) : "",
    startUs: firstSendUs || t0,
    endUs: Math.max(t0, loopEndUs),
    expected,
    stopped,
  };
  lateness?.destroy();
  if (task.truth) {
    result.hosts = hostTruth(task, hosts);
    result.events = plan ? plan.events : [];
  }
  return result;
}

/** Per-host truth: what every host that sent anything sent. */
function hostTruth(task: ShardTask, hosts: HostTable): HostTruth[] {
  const out: HostTruth[] = [];
  for (let j = 0; j < hosts.count; j++) {
    const messages = hosts.messages(j);
    if (messages === 0) continue;
    const host = hosts.host(j);
    out.push({
      host,
      source: sourceAddress(task.transportOptions.sources, host),
      format: hosts.isLegacy(j) ? "legacy" : "extended",
      firstSeq: hosts.startSeq(j),
      lastSeq: hosts.seq[j] - 1,
      messages,
      datagrams: hosts.datagrams[j],
      storm: hosts.isStorm(j),
    });
  }
  return out;
}
