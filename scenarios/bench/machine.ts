/**
 * How busy the machine is while a benchmark runs (other processes and the hypervisor's steal
 * included), so a figure taken on a loaded machine says so: reads /proc/stat and the load
 * average; the arithmetic is in ./stats.ts.
 */
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { type CpuTicks, machineBusy, parseCpuTicks } from "./stats.ts";

/** The machine's CPU ticks now, or null where /proc/stat cannot be read (not Linux). */
export function readCpuTicks(): CpuTicks | null {
  try {
    return parseCpuTicks(readFileSync("/proc/stat", "utf8"));
  } catch {
    return null;
  }
}

export interface MachineLoad {
  /** Share of all CPU time spent busy during the interval (all processes), percent; null if unknown. */
  busyPercent: number | null;
  /** Share of all CPU time stolen by the hypervisor during the interval, percent; null if unknown. */
  stealPercent: number | null;
  /** The 1-minute load average at the end of the interval. */
  loadAverage1m: number;
  cpus: number;
}

/**
 * Starts watching the machine; the returned function gives its load since the start (call it
 * as often as wanted: each call measures from the same start).
 */
export function watchMachine(): () => MachineLoad {
  const start = readCpuTicks();
  return () => {
    const end = readCpuTicks();
    const busy = start && end ? machineBusy(start, end) : null;
    return {
      busyPercent: busy ? busy.busyShare * 100 : null,
      stealPercent: busy ? busy.stealShare * 100 : null,
      loadAverage1m: loadavg()[0],
      cpus: cpus().length,
    };
  };
}
