/**
 * How busy the machine is besides the run itself: the load average (/proc/loadavg) and the share
 * of all CPU time that other processes took during the run (/proc/stat), recorded with the
 * results so a throughput measured on a busy machine is not mistaken for the target's.
 */
import { readProcText, TICK_MS } from "../receiver/procfs.ts";
import { type CpuTicks, machineBusy, parseCpuTicks } from "./bench/stats.ts";

/** The 1, 5 and 15 minute load averages; [] where /proc cannot be read. */
export function loadAverage(): number[] {
  const fields = readProcText("/proc/loadavg").trim().split(/\s+/).slice(0, 3).map(Number);
  return fields.length === 3 && fields.every(Number.isFinite) ? fields : [];
}

/** Above this share of the machine taken by other processes, throughputs are not comparable. */
export const BUSY_SHARE_LIMIT = 0.25;

export interface CpuMark {
  ticks: CpuTicks | null;
  /** This process's CPU time so far (ms). */
  ownMs: number;
}

export function cpuMark(): CpuMark {
  const u = process.cpuUsage();
  return { ticks: parseCpuTicks(readProcText("/proc/stat")), ownMs: (u.user + u.system) / 1000 };
}

/**
 * The share (0..1) of all CPU time between `start` and now that went to other processes than
 * this one and the targets it started (`targetCpuMs`), or null where /proc/stat cannot be read.
 */
export function otherCpuShare(start: CpuMark, targetCpuMs: number): number | null {
  const end = cpuMark();
  if (start.ticks === null || end.ticks === null) return null;
  const totalMs = (end.ticks.total - start.ticks.total) * TICK_MS;
  if (totalMs <= 0) return null;
  const busyMs = machineBusy(start.ticks, end.ticks).busyShare * totalMs;
  const others = busyMs - (end.ownMs - start.ownMs) - targetCpuMs;
  return Math.min(1, Math.max(0, others / totalMs));
}
