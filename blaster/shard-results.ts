/**
 * The sending threads' results, combined into the run's report and its truth: counters summed,
 * lateness histograms merged, the per-host truth gathered in host order.
 */

import { durationUs } from "../scenarios/format.ts";
import type { BlastReport } from "./blast-report.ts";
import type { BlastSetup } from "./blast-setup.ts";
import { MAX_PRINT_CHUNK } from "./codec.ts";
import { sumCounters } from "./counters.ts";
import { describeSize } from "./options.ts";
import type { ShardResult } from "./shard.ts";
import { sourceAddress } from "./sources.ts";
import type { TruthHostLine, TruthRunLine } from "./truth.ts";

const EXPECTED_KEYS = ["messagesDelivered", "missing", "duplicates", "outOfOrder"] as const;

/** How a set of shards (threads, or merged reports) stopped, as one word. */
export function stoppedOf(each: readonly BlastReport["stopped"][]): BlastReport["stopped"] {
  if (each.some((s) => s === "signal")) return "signal";
  if (each.every((s) => s === "count")) return "count";
  if (each.every((s) => s === "hosts")) return "hosts";
  return "duration";
}

/** Lateness summary and merged encoding of encoded histograms ("" entries: unpaced, skipped). */
export async function mergeLateness(
  encoded: readonly (string | null)[],
): Promise<Pick<BlastReport, "latenessUs" | "latenessHistogram">> {
  const present = encoded.filter((e): e is string => typeof e === "string" && e !== "");
  if (present.length === 0) return { latenessUs: null, latenessHistogram: null };
  // Only paced runs have lateness: only they load the histogram library (blaster/latency.ts).
  const { encodeHistogram, mergeEncoded, summarize } = await import("./latency.ts");
  const h = mergeEncoded(present);
  const out = { latenessUs: summarize(h), latenessHistogram: encodeHistogram(h) };
  h.destroy();
  return out;
}

export interface RunTiming {
  /** Monotonic µs of the common start, and how late this process's start was. */
  t0Us: number;
  lateUs: number;
  mainThread: boolean;
}

export async function reportOfShards(
  setup: BlastSetup,
  results: readonly ShardResult[],
  timing: RunTiming,
): Promise<BlastReport> {
  const o = setup.options;
  const c = sumCounters(results.map((x) => x.counters));
  const endUs = Math.max(...results.map((x) => x.endUs));
  const durationMs = Math.max(0, (endUs - timing.t0Us) / 1000);
  const errorsByCode: Record<string, number> = {};
  for (const [key, value] of Object.entries(c)) {
    if (key.startsWith("error.")) errorsByCode[key.slice(6)] = value;
  }
  const expected = { messagesDelivered: 0, missing: 0, duplicates: 0, outOfOrder: 0 };
  for (const x of results) for (const k of EXPECTED_KEYS) expected[k] += x.expected[k];
  const plan = setup.sources;
  const sent = c.sent ?? 0;
  // This process's share of the rate (a ramp: its average).
  const share = setup.threads.reduce((n, t) => n + t.schedule.ratePps, 0);
  const rampShare = setup.threads.reduce(
    (n, t) => n + (t.schedule.ramp ? (t.schedule.ramp.fromPps + t.schedule.ramp.toPps) / 2 : 0),
    0,
  );
  const notes = [...setup.notes];
  if (timing.lateUs > 0 && o.startAt !== undefined) {
    notes.push(
      `started ${durationUs(timing.lateUs)} after --start-at (counted in the lateness of paced sends)`,
    );
  }
  return {
    kind: "blast",
    target: setup.targetText,
    transport: o.transport,
    sources: {
      kind: plan.kind,
      prefix: plan.prefix ?? null,
      first: sourceAddress(plan, 0),
      last: sourceAddress(plan, o.hosts - 1),
    },
    seed: setup.plan.seed,
    hosts: o.hosts,
    plan: setup.plan,
    shards: { count: setup.slice.count, included: [setup.slice.index] },
    workers: o.workers,
    mainThread: timing.mainThread,
    format: o.format,
    size: describeSize(o.size),
    stamp: o.stamp,
    messages: c.messages ?? 0,
    messagesExtended: c.messagesExtended ?? 0,
    messagesLegacy: c.messagesLegacy ?? 0,
    stormMessages: c.stormMessages ?? 0,
    datagrams: c.datagrams ?? 0,
    packets: { sent, errors: c.errors ?? 0, bytes: c.bytes ?? 0, errorsByCode },
    fragmentsSent: c.fragmentsSent ?? 0,
    gso: {
      mode: o.gso,
      used: (c.gsoWorkers ?? 0) > 0,
      sends: c.gsoSends ?? 0,
      datagrams: c.gsoDatagrams ?? 0,
    },
    socketsOpened: c.opened ?? 0,
    icmpErrors: c.icmpErrors ?? 0,
    injected: { lost: c.lost ?? 0, reordered: c.reordered ?? 0, duplicated: c.duplicated ?? 0 },
    impairments: {
      loss: o.loss,
      reorder: o.reorder,
      reorderDepth: o.reorderDepth,
      duplicate: o.duplicate,
    },
    expected,
    rate: {
      targetPps: o.ramp ? rampShare : share,
      achievedPps: durationMs > 0 ? (sent * 1000) / durationMs : 0,
      ramp: o.ramp ?? null,
      burst: o.burst,
    },
    ...(await mergeLateness(results.map((x) => x.lateness))),
    start: { atMs: o.startAt ?? null, lateUs: timing.lateUs },
    cpu: { workerUs: c.cpuUs ?? 0, usPerPacket: sent > 0 ? (c.cpuUs ?? 0) / sent : 0 },
    durationMs,
    stopped: stoppedOf(results.map((x) => x.stopped)),
    notes,
    truthFile: o.truth ?? null,
  };
}

/** The truth file's run line for this report (its shard named when it is one of several). */
export function truthRunLine(report: BlastReport, setup: BlastSetup): TruthRunLine {
  return {
    kind: "run",
    seed: report.seed,
    target: report.target,
    hosts: report.hosts,
    messages: report.messages,
    injected: report.injected,
    expected: report.expected,
    maxPayloadBytes: MAX_PRINT_CHUNK,
    ...(setup.slice.count > 1 ? { shard: setup.slice } : {}),
  };
}

/** The per-host truth lines of the threads' results, in host order. */
export function truthHostLines(results: readonly ShardResult[]): TruthHostLine[] {
  type Events = Pick<TruthHostLine, "lost" | "duplicated" | "reordered">;
  const byHost = new Map<number, Events>();
  for (const x of results) {
    for (const e of x.events ?? []) {
      let h = byHost.get(e.host);
      if (!h) {
        h = { lost: [], duplicated: [], reordered: [] };
        byHost.set(e.host, h);
      }
      h[e.kind].push([e.seq, e.fragment]);
    }
  }
  const hosts = results.flatMap((x) => x.hosts ?? []).sort((a, b) => a.host - b.host);
  return hosts.map((h) => ({
    kind: "host" as const,
    ...h,
    ...(byHost.get(h.host) ?? { lost: [], duplicated: [], reordered: [] }),
  }));
}
