/**
 * An external target process (a real netconsd, or any program that binds a UDP port), measured
 * from outside: started from a command line in its own process group, waited on until its port
 * is bound, sampled from /proc while the load runs, stopped with SIGTERM (SIGKILL after a grace
 * period), its output kept and netconsd's exit statistics parsed from it.
 */
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { createWriteStream, type WriteStream } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { type KernelSample, sampleKernel } from "../receiver/kernel-drops.ts";
import { type NetconsdStats, parseNetconsdStats } from "./netconsd-output.ts";
import { OutputKeeper } from "./output-keeper.ts";
import { killGroup as signalGroup, trackGroup, untrackGroup } from "./process-groups.ts";
import { sampleProcessTree, type TreeSample } from "./process-tree.ts";

export interface ExternalSample {
  /** ms since the target was ready. */
  tMs: number;
  cpuMs: number;
  rssBytes: number;
  /** Sum of the per-socket drops column over the target's sockets. */
  socketDrops: number;
  sockets: number;
}

export interface ExternalMeasurement {
  pid: number;
  command: string;
  /** Sockets bound to the port when the load ended. */
  sockets: number;
  /** Sockets bound to the port when the load started (fewer at the end: some were closed). */
  socketsAtLoadStart: number;
  /**
   * Set when the target (the process started, e.g. the shell of a compound command) had already
   * exited when the load ended: it crashed or was killed during the trial, so its exit
   * statistics, if any, do not cover the whole load.
   */
  exitedDuringLoad: { code: number | null; signal: string | null } | null;
  /** Datagrams the target's sockets refused during the trial (per-socket drops column). */
  socketDrops: number;
  /** System-wide RcvbufErrors (UDP + UDP6) during the trial: includes any other UDP user. */
  rcvbufErrorsSystemWide: number;
  /** CPU time the target's process tree used while loaded (ms). */
  cpuMs: number;
  rssIdleBytes: number;
  rssFinalBytes: number;
  /** Largest of: the sampled tree RSS and the kernel's VmHWM of any of its processes. */
  rssPeakBytes: number;
  exitCode: number | null;
  exitSignal: string | null;
  /** Whether it needed SIGKILL after the grace period. */
  killed: boolean;
  stats: NetconsdStats | null;
  /** Last lines of its output, for error messages and the report. */
  outputTail: string;
  logFile?: string;
}

export interface ExternalTargetOptions {
  command: string;
  port: number;
  cwd?: string;
  /** How long to wait for the port to be bound. */
  readyTimeoutMs: number;
  /** Grace period after SIGTERM before SIGKILL. */
  stopTimeoutMs: number;
  /** The target's stdout and stderr go here (and are kept in memory up to 1 MiB). */
  logFile?: string;
  /** Added to this process's environment for the target (e.g. the probe's output file). */
  env?: Record<string, string>;
}

export interface ExternalTarget {
  pid: number;
  /** Marks the start of the load: later figures are deltas from here. */
  markLoadStart(): void;
  sample(): ExternalSample | null;
  /** Final figures (taken while the sockets still exist: their drop counters die with them). */
  measureLoadEnd(): void;
  stop(): Promise<ExternalMeasurement>;
}

export class TargetError extends Error {
  override name = "TargetError";
}

export async function startExternalTarget(options: ExternalTargetOptions): Promise<ExternalTarget> {
  if (sampleKernel(options.port).sockets > 0) {
    throw new TargetError(`UDP port ${options.port} is already in use; choose another port`);
  }
  // For a simple command, `exec` makes the target itself the child (its exit code and status are
  // its own); a compound one (`a; b`, pipes) keeps the shell. Either way the child leads its own
  // process group, and stop() signals the whole group.
  const simple = !/[;&|()\n`]/.test(options.command);
  const child = spawn("/bin/sh", ["-c", simple ? `exec ${options.command}` : options.command], {
    cwd: options.cwd,
    env: options.env ? { ...process.env, ...options.env } : process.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = new OutputKeeper();
  let log: WriteStream | undefined;
  if (options.logFile) log = createWriteStream(options.logFile);
  const keep = (chunk: Buffer) => {
    log?.write(chunk);
    output.add(chunk.toString("utf8"));
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited: { code: number | null; signal: string | null } | null = null;
  const exitPromise = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  const spawnError = new Promise<Error>((resolve) => child.on("error", resolve));
  const tail = () => output.lastLines(20);
  const pid = child.pid;
  // Tracked until its output pipes close, not just until the leader exits: a pipeline stage or
  // a forked child can outlive the shell that started it.
  if (pid !== undefined) trackGroup(pid);
  const untrack = () => {
    if (pid !== undefined) untrackGroup(pid);
  };
  const pipesClosed = new Promise<void>((resolve) => {
    let open = 2;
    const done = () => {
      if (--open === 0) resolve();
    };
    child.stdout.once("close", done);
    child.stderr.once("close", done);
  });
  const killGroup = (signal: NodeJS.Signals) => {
    if (pid !== undefined) signalGroup(pid, signal);
  };

  // Wait until the port is bound: poll /proc/net/udp{,6} (bounded in time).
  const deadline = Date.now() + options.readyTimeoutMs;
  let firstBoundAt = 0;
  for (;;) {
    const race = await Promise.race([
      sleep(50).then(() => "tick" as const),
      spawnError.then((e) => e),
    ]);
    if (race instanceof Error) {
      untrack();
      throw new TargetError(`cannot start "${options.command}": ${race.message}`);
    }
    if (exited) {
      const e = exited as { code: number | null; signal: string | null };
      // A pipeline stage or a forked child may be left behind by the shell.
      killGroup("SIGKILL");
      untrack();
      log?.end();
      throw new TargetError(
        `target exited (code ${e.code}, signal ${e.signal}) before binding port ${options.port}: "${options.command}"\n${tail()}`,
      );
    }
    const bound = sampleKernel(options.port).sockets;
    if (bound > 0 && firstBoundAt === 0) firstBoundAt = Date.now();
    // A multi-listener target binds its sockets one after another: give the rest a moment.
    if (firstBoundAt > 0 && Date.now() - firstBoundAt >= 200) break;
    if (Date.now() > deadline) {
      killGroup("SIGKILL");
      await exitPromise;
      untrack();
      log?.end();
      throw new TargetError(
        `target did not bind UDP port ${options.port} within ${options.readyTimeoutMs} ms: "${options.command}"\n${tail()}`,
      );
    }
  }

  const readyAt = Date.now();
  const idle = sampleProcessTree(pid!);
  let start: { cpuMs: number; kernel: KernelSample } = {
    cpuMs: idle?.cpuMs ?? 0,
    kernel: sampleKernel(options.port),
  };
  let sampledPeak = idle?.rssBytes ?? 0;
  // RSS before the load; taken again at markLoadStart (after any warm-up), so memory per host
  // does not count the target's own start-up.
  let idleRss = idle?.rssBytes ?? 0;
  let last: TreeSample | null = idle;
  let end: { cpuMs: number; kernel: KernelSample; rss: number } | null = null;
  let exitedDuringLoad: { code: number | null; signal: string | null } | null = null;
  // The last socket drop count read while the sockets existed: a target that dies takes its
  // sockets' counters with it, and this is then the best figure left.
  let sampledSocketDrops = 0;

  const sample = (): ExternalSample | null => {
    const tree = sampleProcessTree(pid!);
    if (!tree) return null;
    last = tree;
    sampledPeak = Math.max(sampledPeak, tree.rssBytes, tree.peakRssBytes);
    const k = sampleKernel(options.port);
    if (k.sockets > 0) sampledSocketDrops = Math.max(sampledSocketDrops, k.socketDrops);
    return {
      tMs: Date.now() - readyAt,
      cpuMs: tree.cpuMs - start.cpuMs,
      rssBytes: tree.rssBytes,
      socketDrops: k.socketDrops - start.kernel.socketDrops,
      sockets: k.sockets,
    };
  };

  const measureLoadEnd = (): void => {
    sample();
    if (exited)
      exitedDuringLoad = { ...(exited as { code: number | null; signal: string | null }) };
    end = {
      cpuMs: last?.cpuMs ?? start.cpuMs,
      kernel: sampleKernel(options.port),
      rss: last?.rssBytes ?? 0,
    };
  };

  return {
    pid: pid!,
    markLoadStart() {
      const tree = sampleProcessTree(pid!);
      start = { cpuMs: tree?.cpuMs ?? start.cpuMs, kernel: sampleKernel(options.port) };
      if (tree) idleRss = tree.rssBytes;
    },
    sample,
    measureLoadEnd,
    async stop(): Promise<ExternalMeasurement> {
      if (!end) measureLoadEnd();
      const e = end!;
      const stopAt = Date.now();
      killGroup("SIGTERM");
      let killed = false;
      const result = await Promise.race([
        exitPromise,
        sleep(options.stopTimeoutMs, null, { ref: false }),
      ]);
      if (!result) {
        killed = true;
        killGroup("SIGKILL");
      }
      const exit = result ?? (await exitPromise);
      // Let the pipes drain: the exit statistics are the last thing netconsd writes, and in a
      // pipeline (`netconsd ... | filter`) the last stage writes them after the shell has gone.
      // Whatever still holds the pipes when the grace period is over gets SIGKILL.
      const drained = await Promise.race([
        pipesClosed.then(() => true),
        sleep(Math.max(0, stopAt + options.stopTimeoutMs - Date.now()), false, { ref: false }),
      ]);
      if (!drained) {
        killed = true;
        killGroup("SIGKILL");
        await Promise.race([pipesClosed, sleep(1000, undefined, { ref: false })]);
      }
      untrack();
      await new Promise<void>((resolve) => (log ? log.end(resolve) : resolve()));
      return {
        pid: pid!,
        command: options.command,
        sockets: e.kernel.sockets,
        socketsAtLoadStart: start.kernel.sockets,
        exitedDuringLoad,
        socketDrops: Math.max(
          0,
          (e.kernel.sockets < start.kernel.sockets
            ? Math.max(e.kernel.socketDrops, sampledSocketDrops)
            : e.kernel.socketDrops) - start.kernel.socketDrops,
        ),
        rcvbufErrorsSystemWide: Math.max(0, e.kernel.rcvbufErrors - start.kernel.rcvbufErrors),
        cpuMs: e.cpuMs - start.cpuMs,
        rssIdleBytes: idleRss,
        rssFinalBytes: e.rss,
        rssPeakBytes: sampledPeak,
        exitCode: exit.code,
        exitSignal: exit.signal,
        killed,
        stats: parseNetconsdStats(output.text()),
        outputTail: tail(),
        logFile: options.logFile,
      };
    },
  };
}

/** A free UDP port on the dual-stack wildcard (for external targets given port 0). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket({ type: "udp6", ipv6Only: false });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "::", resolve);
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
