/**
 * A process tree's CPU time and memory as the kernel tells them (/proc/PID/stat,
 * /proc/PID/status), for targets measured from outside. (Socket drops and UDP counters come
 * from receiver/kernel-drops.ts, which our receiver uses too.)
 *
 * The parse* functions are pure (text in, numbers out); the others only add the file reads.
 */
import { readdirSync, readFileSync } from "node:fs";

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

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

/** The pid and every descendant of it that is alive now (one scan of /proc). */
export function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [rootPid];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const stat = parseProcStat(readText(`/proc/${name}/stat`));
    if (!stat) continue;
    const list = children.get(stat.ppid);
    if (list) list.push(stat.pid);
    else children.set(stat.ppid, [stat.pid]);
  }
  const out: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0 && out.length < 10_000) {
    const pid = queue.shift()!;
    out.push(pid);
    for (const c of children.get(pid) ?? []) queue.push(c);
  }
  return out;
}

export interface TreeSample {
  /** CPU time used by the tree so far (live processes plus children they reaped), ms. */
  cpuMs: number;
  /** Sum of VmRSS over the live tree. */
  rssBytes: number;
  /** Largest VmHWM of any process in the tree. */
  peakRssBytes: number;
  processes: number;
}

const TICK_MS = 10; // USER_HZ is 100 on every Linux ABI, whatever the kernel's HZ

/** CPU and memory of a process and its descendants, read now. Null when the root is gone. */
export function sampleProcessTree(rootPid: number): TreeSample | null {
  const rootStat = parseProcStat(readText(`/proc/${rootPid}/stat`));
  if (!rootStat) return null;
  let cpuTicks = 0;
  let rssBytes = 0;
  let peakRssBytes = 0;
  let processes = 0;
  for (const pid of processTree(rootPid)) {
    const stat = pid === rootPid ? rootStat : parseProcStat(readText(`/proc/${pid}/stat`));
    if (!stat) continue;
    cpuTicks += stat.cpuTicks + stat.childCpuTicks;
    const mem = parseProcStatus(readText(`/proc/${pid}/status`));
    rssBytes += mem.rssBytes;
    peakRssBytes = Math.max(peakRssBytes, mem.peakRssBytes);
    processes++;
  }
  return { cpuMs: cpuTicks * TICK_MS, rssBytes, peakRssBytes, processes };
}

/** The kernel release, for the results' environment block. */
export function kernelRelease(): string {
  return readText("/proc/sys/kernel/osrelease").trim();
}
