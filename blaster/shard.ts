/**
 * The send loop of one worker thread: a shard of the hosts (global host h belongs to shard
 * h % shards), paced by the schedule, impaired by the plan, sent through a transport. Live
 * totals go to the main thread through shared memory (one row of counters per shard, written
 * after every batch); the main thread stops the loop by setting a flag in the same memory.
 *
 * Per batch: generate up to `batch` datagrams into one slab, make sure their hosts can send
 * (lazy socket opening), send, flush. Per datagram there is no allocation on the common path.
 */
import { setImmediate as immediate, setTimeout as sleep } from "node:timers/promises";
import { type ContentOptions, datagramList, HostTable, MessageWriter } from "./content.ts";
import { type Counters, zeroCounters } from "./counters.ts";
import { type ImpairmentConfig, type ImpairmentEvent, ImpairmentPlan } from "./impairments.ts";
import { Schedule, type ScheduleConfig } from "./schedule.ts";
import { sourceAddress } from "./sources.ts";
import { monotonicUs } from "./stamp.ts";
import { loadTransport, type Transport, type TransportOptions } from "./transport.ts";

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
  return new SharedArrayBuffer(CONTROL_BYTES + 8 * (1 + shards * LIVE_COUNTERS.length));
}

export function sharedViews(shared: SharedArrayBuffer) {
  return {
    control: new Int32Array(shared, 0, 4),
    startUs: new Float64Array(shared, CONTROL_BYTES, 1),
    rows: new Float64Array(shared, CONTROL_BYTES + 8),
  };
}

/** Below this gap to the next slot (µs) the paced loop just yields instead of sleeping. */
const SPIN_US = 30;

/** Largest message (bytes, all fragments) the slab must hold at its end. */
const MESSAGE_ROOM = 80_000;
const SLAB_BYTES = 1 << 20;

export async function runShard(task: ShardTask): Promise<ShardResult> {
  const { control, startUs: sharedStart, rows } = sharedViews(task.shared);
  const row = task.shard * LIVE_COUNTERS.length;
  // Datagrams per host are only needed by the impairment plan and the truth (4 bytes a host).
  const countDatagrams = task.impairments !== null || task.truth;
  const hosts = new HostTable(task.content, task.shard, task.shards, countDatagrams);
  const writer = new MessageWriter(task.content);
  const schedule = new Schedule(task.schedule);
  const transport: Transport = await (await loadTransport(task.transport)).create(
    task.transportOptions,
  );
  const counters: Counters = zeroCounters([
    ...LIVE_COUNTERS,
    "messagesExtended",
    "messagesLegacy",
    "stormMessages",
  ]);
  const slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  const maxDatagrams = task.batch + 128;
  const list = datagramList(maxDatagrams);
  const hostOf = new Int32Array(maxDatagrams);
  const seqOf = new Float64Array(maxDatagrams);
  const indexOf = new Float64Array(maxDatagrams);
  const trackedOf = new Uint8Array(maxDatagrams);
  const intendedOf = new Float64Array(maxDatagrams);
  let batchBase = 0; // token of the first datagram of the current batch
  const held = new Map<number, Buffer>();
  const fragmentsOfHeld = new Map<number, number>();

  const sendToken = (token: number, host: number, copies: number): void => {
    const d = token - batchBase;
    let fragments: number;
    if (d >= 0) {
      for (let c = 0; c < copies; c++) transport.send(host, slab, list.offset[d], list.length[d]);
      fragments = list.fragments[d];
    } else {
      const bytes = held.get(token)!;
      held.delete(token);
      for (let c = 0; c < copies; c++) transport.send(host, bytes, 0, bytes.length);
      fragments = fragmentsOfHeld.get(token)!;
      fragmentsOfHeld.delete(token);
    }
    if (fragments > 1) counters.fragmentsSent += copies;
  };
  const plan = task.impairments
    ? new ImpairmentPlan(task.impairments, {
        emit: sendToken,
        hold(token) {
          // The slab is reused by the next batch: a held datagram keeps its own copy.
          const d = token - batchBase;
          held.set(
            token,
            Buffer.from(slab.subarray(list.offset[d], list.offset[d] + list.length[d])),
          );
          fragmentsOfHeld.set(token, list.fragments[d]);
        },
      })
    : null;

  const paced = schedule.paced;
  // Loaded only for a paced run (see blaster/latency.ts: the library costs memory per thread).
  const latency = paced ? await import("./latency.ts") : null;
  const lateness = latency ? latency.newHistogram() : null;

  const stormHosts: number[] = [];
  if (task.stormAtMs >= 0)
    for (let j = 0; j < hosts.count; j++) if (hosts.isStorm(j)) stormHosts.push(j);

  // performance.now() is CLOCK_MONOTONIC too, and cheaper than hrtime.bigint(): one offset.
  const offsetUs = monotonicUs() - performance.now() * 1000;
  const nowUs = () => offsetUs + performance.now() * 1000;

  // Start together with the other shards, so their schedules line up.
  Atomics.add(control, CONTROL.ready, 1);
  Atomics.notify(control, CONTROL.ready);
  // Polled (startup only): Atomics.waitAsync is not in the ES2023 lib this project targets.
  while (Atomics.load(control, CONTROL.go) === 0) await sleep(1);
  const t0 = sharedStart[0];
  // CPU time of this thread in the send loop: a cost per packet that contention does not skew.
  // (process.threadCpuUsage is Node >= 23.9; the project pins 24, older ones report 0.)
  const threadCpu = process.threadCpuUsage?.bind(process);
  const cpuStart = threadCpu?.();
  // Wait for the common start precisely (woken early only by a stop).
  const leadUs = t0 - nowUs();
  if (leadUs > 0) Atomics.wait(control, CONTROL.stop, 0, leadUs / 1000);
  const endUs = task.durationMs > 0 ? t0 + task.durationMs * 1000 : Number.POSITIVE_INFINITY;
  const stormAtUs = task.stormAtMs >= 0 ? t0 + task.stormAtMs * 1000 : Number.POSITIVE_INFINITY;
  let storming = false;
  let stormIndex = 0;
  let stormLeft = 0; // storm hosts still panicking
  let shiftUs = 0; // the schedule pauses while a storm is sent
  let slot = 0;
  let next = 0; // round-robin position in the shard
  let liveHosts = hosts.count;
  let firstSendUs = 0;
  let stopped: ShardResult["stopped"] = "duration";
  let token = 0;
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
    if (liveHosts === 0) {
      stopped = "hosts";
      break;
    }
    let now = nowUs();
    if (now >= endUs) {
      stopped = "duration";
      break;
    }
    if (!storming && now >= stormAtUs && stormHosts.length > 0) {
      storming = true;
      stormLeft = stormHosts.length;
      for (const j of stormHosts) hosts.startPanic(j);
    }
    let due: number;
    if (storming) {
      due = task.batch; // a storm is a burst: no pacing
    } else if (paced) {
      due = schedule.slotsDueBy(now - t0 - shiftUs) - slot;
      if (due <= 0) {
        const waitUs = t0 + shiftUs + schedule.timeOfSlotUs(slot) - now;
        if (waitUs > 3000) {
          // Long gaps: a timer (>= ~1 ms granularity), which lets I/O through meanwhile.
          await sleep(Math.min(Math.floor(waitUs / 1000) - 2, 50));
        } else if (waitUs > SPIN_US) {
          // Short gaps: block this worker thread with sub-millisecond precision instead of
          // spinning (which would take a core from the system under test). The stop flag is
          // the word waited on, so a stop wakes it at once. Then one turn of the event loop.
          Atomics.wait(control, CONTROL.stop, 0, (waitUs - SPIN_US) / 1000);
          await immediate();
        } else {
          await immediate();
        }
        continue;
      }
      if (due > task.batch) due = task.batch;
    } else {
      due = task.batch;
    }

    // Generate the batch.
    list.count = 0;
    batchBase = token;
    let at = 0;
    while (list.count < due && counters.messages < max && at < SLAB_BYTES - MESSAGE_ROOM) {
      let j: number;
      if (storming) {
        if (stormIndex >= stormHosts.length) stormIndex = 0;
        if (stormLeft === 0) {
          // Every storm host has finished its panic and gone silent.
          storming = false;
          stormHosts.length = 0;
          // Normal traffic resumes where its schedule paused, without a catch-up burst.
          const behind = nowUs() - (t0 + shiftUs + schedule.timeOfSlotUs(slot));
          if (paced && behind > 0) shiftUs += behind;
          break;
        }
        j = stormHosts[stormIndex++];
        if (hosts.isDead(j)) continue;
      } else {
        j = next;
        next = next + 1 === hosts.count ? 0 : next + 1;
        if (hosts.isDead(j)) continue;
      }
      const intended = storming
        ? stormAtUs
        : paced
          ? t0 + shiftUs + schedule.timeOfSlotUs(slot)
          : now;
      const before = list.count;
      at = writer.write(hosts, j, intended, slab, at, list);
      if (list.count === before) {
        // The host has just finished its panic script: it is silent from now on.
        if (hosts.isDead(j)) {
          liveHosts--;
          if (storming) stormLeft--;
        }
        continue;
      }
      const host = hosts.host(j);
      const legacy = writer.lastLegacy;
      for (let d = before; d < list.count; d++) {
        hostOf[d] = host;
        seqOf[d] = writer.lastSeq;
        indexOf[d] = countDatagrams ? hosts.datagrams[j]++ : 0;
        trackedOf[d] = legacy ? 0 : 1;
        intendedOf[d] = intended;
      }
      counters.messages++;
      if (legacy) counters.messagesLegacy++;
      else counters.messagesExtended++;
      if (storming) counters.stormMessages++;
      else slot += list.count - before;
      token += list.count - before;
    }
    const n = list.count;
    if (n === 0) continue;
    counters.datagrams += n;

    const opening = transport.prepare(hostOf, n);
    if (opening) await opening;
    now = nowUs();
    if (firstSendUs === 0) firstSendUs = now;
    if (plan) {
      for (let d = 0; d < n; d++) {
        plan.offer({
          host: hostOf[d],
          index: indexOf[d],
          seq: seqOf[d],
          fragment: list.fragment[d],
          fragments: list.fragments[d],
          tracked: trackedOf[d] === 1,
          token: batchBase + d,
        });
      }
    } else {
      for (let d = 0; d < n; d++) {
        transport.send(hostOf[d], slab, list.offset[d], list.length[d]);
        if (list.fragments[d] > 1) counters.fragmentsSent++;
      }
    }
    if (lateness) {
      // Every datagram's actual send time, interpolated between the batch's first and last send
      // (two clock reads per batch instead of one per datagram).
      const doneUs = nowUs();
      const step = (doneUs - now) / n;
      for (let d = 0; d < n; d++) {
        const late = now + step * (d + 1) - intendedOf[d];
        lateness.recordValue(late > 0 ? Math.round(late) : 0);
      }
    }
    const flushing = transport.flush();
    if (flushing) await flushing;
    publish();
    if (!paced || storming) await immediate(); // let I/O, timers and the stop flag through
  }

  // The run's end: the duration's end, the stop, or right after the last batch of a --count.
  const loopEndUs = nowUs();
  const cpu = cpuStart && threadCpu ? threadCpu(cpuStart) : { user: 0, system: 0 };
  counters.cpuUs = cpu.user + cpu.system;
  // Whatever the reorder plan still holds goes out now (recorded in the truth as such).
  if (plan) {
    batchBase = token;
    plan.finish();
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
    result.hosts = [];
    for (let j = 0; j < hosts.count; j++) {
      const messages = hosts.messages(j);
      if (messages === 0) continue;
      const host = hosts.host(j);
      result.hosts.push({
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
    result.events = plan ? plan.events : [];
  }
  return result;
}
