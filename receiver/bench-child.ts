/**
 * For the benchmarks: a receiver (or any program printing `listening on [ADDR]:PORT` on stderr
 * and a JSON report on stdout when interrupted) run as a child process, so its CPU time and RSS
 * can be read from /proc without the blaster's.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The CLI entry, for `receive` children. */
export const CLI = fileURLToPath(new URL("../scenarios/cli.ts", import.meta.url));

export interface Child {
  pid: number;
  /** The port from its `listening on [ADDR]:PORT` line. */
  port: number;
  /** SIGINT, wait for the exit, parse the JSON report printed on stdout. */
  stop(): Promise<Record<string, unknown> & { packets: { received: number } }>;
}

/** Starts `node ARGS...` and waits (bounded) until it says it is listening. */
export async function startChild(args: string[]): Promise<Child> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  const end = Date.now() + 15000;
  while (!/listening on/.test(err) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!/listening on/.test(err)) throw new Error(`the child did not start: ${err}`);
  await new Promise((r) => setTimeout(r, 500)); // let its threads settle before a baseline
  return {
    pid: child.pid!,
    port: Number(/listening on \[[^\]]*\]:(\d+)/.exec(err)?.[1] ?? 0),
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGINT");
      await exited;
      // The JSON report follows the human one, which has no line starting with "{".
      const at = out.startsWith("{") ? 0 : out.indexOf("\n{") + 1;
      return JSON.parse(out.slice(at));
    },
  };
}

/** Name and user + system CPU time (µs, USER_HZ = 100) from a /proc stat file. */
function statCpu(path: string): { name: string; us: number } {
  // Fields after the command name (which may contain spaces): utime is the 14th, stime the 15th.
  const stat = readFileSync(path, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
  return { name, us: (Number(f[11]) + Number(f[12])) * 10_000 };
}

/** User + system CPU time of a process, µs. */
export function cpuUs(pid: number): number {
  return statCpu(`/proc/${pid}/stat`).us;
}

/** The same per thread (Linux tasks), by thread id. */
export function threadCpuUs(pid: number): Map<string, { name: string; us: number }> {
  const out = new Map<string, { name: string; us: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(tid, statCpu(`/proc/${pid}/task/${tid}/stat`));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** Resident set size of a process, bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}
