/**
 * A process tree's CPU time and memory, for targets measured from outside: which processes
 * descend from the target, and their /proc figures summed. The /proc files themselves are read
 * and parsed by receiver/procfs.ts (the one procfs module; the receiver's benchmarks read them
 * too); socket drops and UDP counters come from receiver/kernel-drops.ts.
 */
import { readdirSync } from "node:fs";
import { parseProcStat, parseProcStatus, readProcText, TICK_MS } from "../receiver/procfs.ts";

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
    const stat = parseProcStat(readProcText(`/proc/${name}/stat`));
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

/** CPU and memory of a process and its descendants, read now. Null when the root is gone. */
export function sampleProcessTree(rootPid: number): TreeSample | null {
  const rootStat = parseProcStat(readProcText(`/proc/${rootPid}/stat`));
  if (!rootStat) return null;
  let cpuTicks = 0;
  let rssBytes = 0;
  let peakRssBytes = 0;
  let processes = 0;
  for (const pid of processTree(rootPid)) {
    const stat = pid === rootPid ? rootStat : parseProcStat(readProcText(`/proc/${pid}/stat`));
    if (!stat) continue;
    cpuTicks += stat.cpuTicks + stat.childCpuTicks;
    const mem = parseProcStatus(readProcText(`/proc/${pid}/status`));
    rssBytes += mem.rssBytes;
    peakRssBytes = Math.max(peakRssBytes, mem.peakRssBytes);
    processes++;
  }
  return { cpuMs: cpuTicks * TICK_MS, rssBytes, peakRssBytes, processes };
}
