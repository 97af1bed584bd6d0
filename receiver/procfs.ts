/**
 * A process's (or, under /proc/PID/task/TID, a thread's) CPU time and memory as the kernel tells
 * them: /proc/PID/stat and /proc/PID/status. Read by the scenario runner for targets measured
 * from outside (scenarios/process-tree.ts) and by the receiver's benchmarks
 * (scenarios/bench/receiver-child.ts).
 *
 * The parse* functions are pure (text in, numbers out); readProcText only adds the file read.
 */
import { readFileSync } from "node:fs";

/** A /proc file's text, or "" when it cannot be read (the process or thread has ended). */
export function readProcText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** One clock tick of the stat files' CPU times: USER_HZ is 100 on every Linux ABI, whatever the kernel's HZ. */
export const TICK_MS = 10;

export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, and cutime + cstime (children already waited for), in clock ticks. */
  cpuTicks: number;
  childCpuTicks: number;
}

/** Parses /proc/PID/stat. The command name may hold spaces and parentheses: cut at the last ")". */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  // Fields after the name start at field 3 (state); ppid is field 4, utime..cstime 14..17.
  const f = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const n = (field: number) => Number(f[field - 3]);
  const ppid = n(4);
  if (!Number.isFinite(pid) || !Number.isFinite(ppid)) return null;
  return { pid, ppid, cpuTicks: n(14) + n(15), childCpuTicks: n(16) + n(17) };
}

export interface ProcMemory {
  rssBytes: number;
  /** VmHWM: the process's own peak RSS, kept by the kernel (catches spikes between samples). */
  peakRssBytes: number;
}

/** Parses /proc/PID/status for VmRSS and VmHWM (kB in the file). */
export function parseProcStatus(text: string): ProcMemory {
  const kb = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s*kB`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return { rssBytes: kb("VmRSS"), peakRssBytes: kb("VmHWM") };
}
