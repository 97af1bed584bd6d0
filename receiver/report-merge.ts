/**
 * Receiver reports of receivers that took parts of one load (each `receive --json`), combined
 * into one report of the same shape: counts summed, histograms merged and the latency summaries
 * recomputed from them, per-listener and per-worker lists concatenated (renumbered in file
 * order). Refuses receivers whose settings make the sums meaningless. Advice is per receiver
 * and left out (mergedFrom says how many runs the report covers); the loss ledger is not part
 * of the report and is not rebuilt. Pure.
 */
import { latencyOf } from "./build-report.ts";
import type { ReceiverReport } from "./receiver-report.ts";

export interface NamedReceiverReport {
  /** How errors name the report (its file). */
  name: string;
  report: ReceiverReport;
}

/**
 * Settings that decide how datagrams are classified and counted: receivers that differ in one
 * of them counted by different rules, and their sums mean nothing.
 */
export const MERGE_KEYS = [
  "queueLimit",
  "msgTimeoutMs",
  "oosTimeoutMs",
  "seqWindow",
  "maxHosts",
  "hostIdleMs",
  "maxMessageBytes",
  "fragmentTimeoutMs",
] as const satisfies readonly (keyof ReceiverReport["config"])[];

/** The sum of the numbers at each key (every value of every object is a number). */
function sumEach<T extends Record<string, number>>(values: readonly T[]): T {
  const out: Record<string, number> = {};
  for (const v of values) for (const [k, n] of Object.entries(v)) out[k] = (out[k] ?? 0) + n;
  return out as T;
}

function checkSameRules(parts: readonly NamedReceiverReport[]): void {
  const [first] = parts;
  for (const { name, report } of parts) {
    for (const key of MERGE_KEYS) {
      if (report.config[key] !== first.report.config[key]) {
        throw new Error(
          `${name} and ${first.name} are receivers with different settings: config.${key} ${report.config[key]} vs ${first.report.config[key]}`,
        );
      }
    }
  }
}

export function mergeReceiverReports(parts: readonly NamedReceiverReport[]): ReceiverReport {
  if (parts.length === 0) throw new Error("no receiver reports to merge");
  checkSameRules(parts);
  const reports = parts.map((p) => p.report);
  const [base] = reports;
  const sum = (pick: (r: ReceiverReport) => number) => reports.reduce((n, r) => n + pick(r), 0);
  const max = (pick: (r: ReceiverReport) => number) => Math.max(...reports.map(pick));
  const read = sum((r) => r.packets.read);
  const activeMs = max((r) => r.activeMs);
  const durationMs = max((r) => r.durationMs);
  const renumber = <T extends { index: number }>(lists: T[][]) =>
    lists.flat().map((x, index) => ({ ...x, index }));
  const reasons = [...new Set(reports.map((r) => r.stopReason))];
  return {
    tool: base.tool,
    startedAt: reports.map((r) => r.startedAt).sort()[0],
    durationMs,
    activeMs,
    stopReason: reasons.join(", "),
    complete: reports.every((r) => r.complete),
    config: {
      ...base.config,
      listeners: sum((r) => r.config.listeners),
      workers: sum((r) => r.config.workers),
    },
    packets: {
      read,
      received: sum((r) => r.packets.received),
      malformed: sum((r) => r.packets.malformed),
      bytes: sum((r) => r.packets.bytes),
      // The receivers ran side by side (the parts of one load): the rate over the longest.
      ratePps: activeMs > 0 ? Math.round((read * 1000) / activeMs) : 0,
    },
    messages: sumEach(reports.map((r) => r.messages)),
    sequence: sumEach(reports.map((r) => r.sequence)),
    drops: {
      kernel: sum((r) => r.drops.kernel),
      queue: sum((r) => r.drops.queue),
      kernelRcvbufErrorsSystem: sum((r) => r.drops.kernelRcvbufErrorsSystem),
      kernelCountersAvailable: reports.every((r) => r.drops.kernelCountersAvailable),
    },
    hosts: sum((r) => r.hosts),
    hostsTracked: sum((r) => r.hostsTracked),
    hostsEvicted: sum((r) => r.hostsEvicted),
    // Per receiver: the smallest grant (the one that drops first).
    rcvbuf: {
      requestedBytes: base.rcvbuf.requestedBytes,
      grantedBytes: Math.min(...reports.map((r) => r.rcvbuf.grantedBytes)),
      rmemMaxBytes: Math.min(...reports.map((r) => r.rcvbuf.rmemMaxBytes)),
    },
    queue: { limit: base.queue.limit, maxDepth: max((r) => r.queue.maxDepth) },
    perWorker: renumber(reports.map((r) => r.perWorker)),
    perListener: renumber(reports.map((r) => r.perListener)),
    ...latencyOf(reports.map((r) => r.histograms)),
    mergedFrom: sum((r) => r.mergedFrom),
    failures: parts.flatMap((p) => p.report.failures.map((f) => `${p.name}: ${f}`)),
    advice: [],
  };
}
