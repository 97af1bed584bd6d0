/**
 * What the kernel tells about a target from outside: per-socket UDP drops and bound ports
 * (/proc/net/udp, /proc/net/udp6), system-wide UDP error counters (/proc/net/snmp, snmp6), and
 * a process tree's CPU time and memory (/proc/PID/stat, /proc/PID/status).
 *
 * The parse* functions are pure (text in, numbers out) and tested on captured text; the read*
 * functions only add the file reads.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface UdpSocket {
  /** Local address as printed by the kernel (hex), and the port as a number. */
  localAddressHex: string;
  port: number;
  inode: number;
  /** The per-socket `drops` column: datagrams this socket's receive queue refused. */
  drops: number;
  /** Bytes waiting in the receive queue. */
  rxQueueBytes: number;
}

/** Parses /proc/net/udp or /proc/net/udp6 text. Lines it cannot read are skipped. */
export function parseProcNetUdp(text: string): UdpSocket[] {
  const out: UdpSocket[] = [];
  const lines = text.split("\n");
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    if (f.length < 13) continue;
    const [addr, portHex] = f[1].split(":");
    const queues = f[4].split(":");
    const port = Number.parseInt(portHex, 16);
    const inode = Number(f[9]);
    const drops = Number(f[12]);
    if (!Number.isFinite(port) || !Number.isFinite(drops)) continue;
    out.push({
      localAddressHex: addr,
      port,
      inode,
      drops,
      rxQueueBytes: Number.parseInt(queues[1] ?? "0", 16) || 0,
    });
  }
  return out;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Every UDP socket (IPv4 and IPv6) bound to `port`. */
export function readUdpSockets(port: number): UdpSocket[] {
  return [
    ...parseProcNetUdp(readText("/proc/net/udp")),
    ...parseProcNetUdp(readText("/proc/net/udp6")),
  ].filter((s) => s.port === port);
}

/**
 * Parses /proc/net/snmp (pairs of "Udp: names" / "Udp: values" lines) or /proc/net/snmp6
 * ("Udp6RcvbufErrors  12" lines) into a flat map such as { "Udp.RcvbufErrors": 3,
 * "Udp6.RcvbufErrors": 0 }.
 */
export function parseSnmp(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const pair = /^(\w+):\s+(.*)$/.exec(line);
    if (pair) {
      const next = /^(\w+):\s+(.*)$/.exec(lines[i + 1]?.trim() ?? "");
      if (next && next[1] === pair[1] && /^[-\d\s]+$/.test(next[2])) {
        const names = pair[2].split(/\s+/);
        const values = next[2].split(/\s+/).map(Number);
        names.forEach((n, k) => {
          out[`${pair[1]}.${n}`] = values[k];
        });
        i++;
      }
      continue;
    }
    const six = /^(Udp6|UdpLite6|Ip6|Icmp6)(\w+)\s+(\d+)$/.exec(line);
    if (six) out[`${six[1]}.${six[2]}`] = Number(six[3]);
  }
  return out;
}

export interface UdpErrorCounters {
  rcvbufErrors: number;
  inErrors: number;
  inCsumErrors: number;
}

/** System-wide UDP error counters, IPv4 and IPv6 summed. */
export function readUdpErrorCounters(): UdpErrorCounters {
  const all = {
    ...parseSnmp(readText("/proc/net/snmp")),
    ...parseSnmp(readText("/proc/net/snmp6")),
  };
  const get = (k: string) => all[k] ?? 0;
  return {
    rcvbufErrors: get("Udp.RcvbufErrors") + get("Udp6.RcvbufErrors"),
    inErrors: get("Udp.InErrors") + get("Udp6.InErrors"),
    inCsumErrors: get("Udp.InCsumErrors") + get("Udp6.InCsumErrors"),
  };
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
