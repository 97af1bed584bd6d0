/**
 * Blast reports of the shards of one load (`blast --shard I/N` on many processes or machines),
 * combined into the report of the whole load: counts summed, lateness histograms merged, the
 * longest duration, refusing reports that are not shards of one load.
 */
import type { BlastReport } from "./blast-report.ts";
import { mergeLateness, stoppedOf } from "./shard-results.ts";

export interface NamedReport {
  /** How errors name the report (its file). */
  name: string;
  report: BlastReport;
}

/** The sum of numbers at the same place in each object (nested objects summed key by key). */
function sumAll<T>(values: readonly T[]): T {
  const [first] = values;
  if (typeof first === "number") {
    return values.reduce((n, v) => (n as number) + (v as number), 0) as T;
  }
  const keys = new Set(values.flatMap((v) => Object.keys(v as object)));
  return Object.fromEntries(
    [...keys].map((k) => [
      k,
      sumAll(values.map((v) => (v as Record<string, unknown>)[k] ?? 0) as unknown[]),
    ]),
  ) as T;
}

/** Throws unless the reports are each shard of one load exactly once (all shards present). */
function checkOneLoad(parts: readonly NamedReport[]): void {
  const [first] = parts;
  const base = first.report;
  const seen = new Map<number, string>();
  for (const { name, report } of parts) {
    if (report.seed !== base.seed) {
      throw new Error(
        `${name} has seed ${report.seed}, ${first.name} seed ${base.seed}: not shards of one load`,
      );
    }
    for (const key of Object.keys(base.plan) as (keyof BlastReport["plan"])[]) {
      const a = JSON.stringify(report.plan[key]);
      const b = JSON.stringify(base.plan[key]);
      if (a !== b) {
        throw new Error(
          `${name} and ${first.name} are not shards of one load: plan.${key} ${a} vs ${b}`,
        );
      }
    }
    for (const index of report.shards.included) {
      const twice = seen.get(index);
      if (twice !== undefined) {
        throw new Error(`${name} and ${twice} both hold shard ${index}/${base.shards.count}`);
      }
      seen.set(index, name);
    }
  }
  const count = base.plan.shards;
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length > 0) {
    throw new Error(
      `shard${missing.length > 1 ? "s" : ""} ${missing.join(", ")} of ${count} missing: merge needs the report of every shard`,
    );
  }
}

export async function mergeBlastReports(parts: readonly NamedReport[]): Promise<BlastReport> {
  if (parts.length === 0) throw new Error("no blast reports to merge");
  checkOneLoad(parts);
  const reports = parts.map((p) => p.report);
  const [base] = reports;
  const sum = <T>(pick: (r: BlastReport) => T): T => sumAll(reports.map(pick));
  const durationMs = Math.max(...reports.map((r) => r.durationMs));
  const sent = sum((r) => r.packets.sent);
  const cpuUs = sum((r) => r.cpu.workerUs);
  const notes = [...new Set(reports.flatMap((r) => r.notes))];
  for (const key of ["target", "transport"] as const) {
    const values = [...new Set(reports.map((r) => r[key]))];
    if (values.length > 1) notes.push(`the shards' ${key}s differ: ${values.join(", ")}`);
  }
  const gsoModes = [...new Set(reports.map((r) => r.gso.mode))];
  if (gsoModes.length > 1) notes.push(`the shards' --gso modes differ: ${gsoModes.join(", ")}`);
  return {
    ...base,
    shards: {
      count: base.shards.count,
      included: reports.flatMap((r) => r.shards.included).sort((a, b) => a - b),
    },
    workers: sum((r) => r.workers),
    mainThread: reports.every((r) => r.mainThread),
    messages: sum((r) => r.messages),
    messagesExtended: sum((r) => r.messagesExtended),
    messagesLegacy: sum((r) => r.messagesLegacy),
    stormMessages: sum((r) => r.stormMessages),
    datagrams: sum((r) => r.datagrams),
    packets: sum((r) => r.packets),
    fragmentsSent: sum((r) => r.fragmentsSent),
    gso: {
      mode: base.gso.mode,
      used: reports.some((r) => r.gso.used),
      sends: sum((r) => r.gso.sends),
      datagrams: sum((r) => r.gso.datagrams),
    },
    socketsOpened: sum((r) => r.socketsOpened),
    icmpErrors: sum((r) => r.icmpErrors),
    injected: sum((r) => r.injected),
    expected: sum((r) => r.expected),
    rate: {
      ...base.rate,
      // Rounded: each shard's share is the total times a fraction, so the sum may be off by ulps.
      targetPps: Math.round(sum((r) => r.rate.targetPps) * 1e6) / 1e6,
      achievedPps: durationMs > 0 ? (sent * 1000) / durationMs : 0,
    },
    ...(await mergeLateness(reports.map((r) => r.latenessHistogram))),
    start: {
      atMs: base.start.atMs,
      lateUs: Math.max(...reports.map((r) => r.start.lateUs)),
    },
    cpu: { workerUs: cpuUs, usPerPacket: sent > 0 ? cpuUs / sent : 0 },
    durationMs,
    stopped: stoppedOf(reports.map((r) => r.stopped)),
    notes,
    truthFile: null,
  };
}
