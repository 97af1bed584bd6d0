/**
 * For the receiver benchmarks: a receiver (or any program printing `listening on [ADDR]:PORT` on
 * stderr and a JSON report on stdout when interrupted) run as a child process, so its CPU time
 * and RSS can be read from /proc without the blaster's.
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseProcStat, parseProcStatus, readProcText, TICK_MS } from "../../receiver/procfs.ts";

/** The CLI entry, for `receive` children. */
export const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

export interface Child {
  pid: number;
  /** The port from its `listening on [ADDR]:PORT` line. */
  port: number;
  /** SIGINT, wait for the exit, parse the JSON report printed on stdout. */
  stop(): Promise<Record<string, unknown> & { packets: { received: number } }>;
}

/** Starts `node ARGS...` and waits (bounded) until it says it is listening. */
export async function startChild(args: string[], nodeFlags: string[] = []): Promise<Child> {
  const child = spawn(process.execPath, [...nodeFlags, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  const end = Date.now() + 60_000;
  while (!/listening on/.test(err) && Date.now() < end) {
    await sleep(50);
  }
  if (!/listening on/.test(err)) throw new Error(`the child did not start: ${err}`);
  await sleep(500); // let its threads settle before a baseline
  return {
    pid: child.pid!,
    port: Number(/listening on \[[^\]]*\]:(\d+)/.exec(err)?.[1] ?? 0),
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGINT");
      await exited;
      // With --json - stdout holds only the JSON report (older builds printed the human report
      // before it, which has no line starting with "{").
      const at = out.startsWith("{") ? 0 : out.indexOf("\n{") + 1;
      return JSON.parse(out.slice(at));
    },
  };
}

/**
 * `netcons-bench receive` on a free port of `bind`, with a 4 MB socket buffer (so the figures
 * measure CPU and memory, not drops), printing its JSON report when stopped.
 */
export function startReceiveChild(
  bind: string,
  listeners: number,
  workers: number,
  extra: readonly string[] = [],
  options: { cli?: string; nodeFlags?: string[] } = {},
): Promise<Child> {
  return startChild(
    [
      options.cli ?? CLI,
      "receive",
      ...["-b", bind, "-p", "0", "-l", String(listeners), "-w", String(workers)],
      ...["--rcvbuf", "4m", ...extra, "--json", "-"],
    ],
    options.nodeFlags,
  );
}

/** User + system CPU time (µs) from a /proc stat file, or null when it is gone. */
function statCpuUs(path: string): number | null {
  const stat = parseProcStat(readProcText(path));
  return stat === null ? null : stat.cpuTicks * TICK_MS * 1000;
}

/** User + system CPU time of a process, µs. */
export function cpuUs(pid: number): number {
  return statCpuUs(`/proc/${pid}/stat`) ?? 0;
}

/** The same per thread (Linux tasks), by thread id, with the thread's name. */
export function threadCpuUs(pid: number): Map<string, { name: string; us: number }> {
  const out = new Map<string, { name: string; us: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const task = `/proc/${pid}/task/${tid}`;
    const us = statCpuUs(`${task}/stat`);
    // null: the thread ended between the listing and the read.
    if (us !== null) out.set(tid, { name: readProcText(`${task}/comm`).trim(), us });
  }
  return out;
}

/** Resident set size of a process, bytes. */
export function rssBytes(pid: number): number {
  return parseProcStatus(readProcText(`/proc/${pid}/status`)).rssBytes;
}
