/**
 * runBlast: the programmatic API behind `netcons-bench blast`. Validates the options, chooses
 * source addresses, checks the transport can work (file descriptors...), runs one piscina worker
 * per shard of hosts (or, with `mainThread`, the only shard on the calling thread), gathers live
 * totals from shared memory, and merges the shards' results into one report (and, when asked,
 * a per-host truth file).
 */
import { randomInt } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { enableCompileCache } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_PRINT_CHUNK } from "./codec.ts";
import type { Format, SizeSpec, SysdataFields } from "./content.ts";
import { NO_SYSDATA } from "./content.ts";
import { sumCounters } from "./counters.ts";
import { impairmentsActive } from "./impairments.ts";
import type { LatencySummary } from "./latency.ts";
import {
  CONTROL,
  LIVE_COUNTERS,
  runShard,
  type ShardResult,
  type ShardTask,
  sharedLayout,
  sharedViews,
} from "./shard.ts";
import {
  chooseSources,
  DEFAULT_TARGET,
  formatEndpoint,
  isLoopbackEndpoint,
  parseTarget,
  resolveTarget,
  sourceAddress,
} from "./sources.ts";
import { monotonicUs } from "./stamp.ts";
import { loadTransport, type TransportOptions, transportNames } from "./transport.ts";

/** A mistake in the options: the CLI prints the message and exits 2. */
export class BlastOptionsError extends Error {
  override name = "BlastOptionsError";
}

export interface BlastOptions {
  /** `[::1]:1514` (default), `127.0.0.1:1514`, `host:port`. */
  target?: string;
  /** Needed for a target outside loopback. */
  allowRemote?: boolean;
  /** `auto` (default), `shared`, or a source prefix `ADDRESS/LENGTH`. */
  sources?: string;
  /** Transport name (default `socket`). */
  transport?: string;
  /** Simulated hosts (default 100). */
  hosts?: number;
  /** Worker threads, each sending for a shard of the hosts (default 1). */
  workers?: number;
  format?: Format;
  size?: SizeSpec;
  /** Latency stamp in each message (default true). */
  stamp?: boolean;
  releasePrefix?: boolean;
  sysdata?: Partial<SysdataFields>;
  userdata?: [string, string][];
  caller?: boolean;
  /** First seq of every host, or "random" (default). */
  startSeq?: number | "random";
  /** Datagrams per second, all workers together; 0 = as fast as possible (default). */
  ratePps?: number;
  /** Linear ramp FROM -> TO pps over the whole --duration (replaces ratePps). */
  ramp?: [number, number];
  /** Datagrams per burst at one intended time (default 1). */
  burst?: number;
  /** Run time limit in ms. Without it and without count, 10 s. */
  durationMs?: number;
  /** Messages to send in total (exactly, unless stopped earlier). */
  count?: number;
  loss?: number;
  reorder?: number;
  /** How many later datagrams of the same host a held one waits for at most (default 3). */
  reorderDepth?: number;
  duplicate?: number;
  /** Share of hosts that panic at once (storm mode, default 0). */
  storm?: number;
  /** When the storm starts, ms after the start (default: half the duration, else 0). */
  stormAtMs?: number;
  /** Default: random, always reported. */
  seed?: number;
  /** Write the per-host truth (JSON Lines) to this file. */
  truthFile?: string;
  /** Datagrams per batch (default 256). */
  batch?: number;
  /**
   * Send from the calling thread instead of a worker thread (only with workers: 1). Saves the
   * worker's isolate (~10 MB of a million-host run's memory); the caller's event loop then
   * shares its thread with the send loop, which yields to it after every batch. The CLI does
   * this for --workers 1; a caller that runs a receiver in the same process should not.
   */
  mainThread?: boolean;
}

export interface BlastProgress {
  elapsedMs: number;
  sent: number;
  errors: number;
  ratePps: number;
  messages: number;
}

export interface BlastReport {
  target: string;
  transport: string;
  sources: { kind: string; prefix: string | null; first: string | null; last: string | null };
  seed: number;
  hosts: number;
  workers: number;
  /** The hosts were sent from the calling thread (options.mainThread), not a worker. */
  mainThread: boolean;
  format: Format;
  size: string;
  stamp: boolean;
  messages: number;
  messagesExtended: number;
  messagesLegacy: number;
  stormMessages: number;
  datagrams: number;
  packets: { sent: number; errors: number; bytes: number; errorsByCode: Record<string, number> };
  fragmentsSent: number;
  socketsOpened: number;
  icmpErrors: number;
  injected: { lost: number; reordered: number; duplicated: number };
  impairments: { loss: number; reorder: number; reorderDepth: number; duplicate: number };
  expected: { messagesDelivered: number; missing: number; duplicates: number; outOfOrder: number };
  rate: { targetPps: number; achievedPps: number; ramp: [number, number] | null; burst: number };
  latenessUs: LatencySummary | null;
  /** CPU time of the send loops (worker threads, or the main thread), and per packet sent (µs). */
  cpu: { workerUs: number; usPerPacket: number };
  durationMs: number;
  stopped: "count" | "duration" | "signal" | "hosts";
  notes: string[];
  truthFile: string | null;
}

function fail(message: string): never {
  throw new BlastOptionsError(message);
}

function checkProbability(name: string, p: number | undefined): number {
  const v = p ?? 0;
  if (!(v >= 0 && v <= 1)) fail(`--${name} must be a probability from 0 to 1, got ${p}`);
  return v;
}

function describeSize(size: SizeSpec): string {
  if (size.kind === "fixed") return String(size.bytes);
  if (size.kind === "range") return `${size.min}-${size.max}`;
  return "realistic";
}

export const MAX_SIZE = 60_000;

/** How far ahead of the go signal the common start time lies (µs). */
const START_LEAD_US = 20_000;

interface Resolved {
  task: Omit<ShardTask, "shard" | "schedule" | "maxMessages" | "shared">;
  workers: number;
  ratePps: number;
  count: number;
  durationMs: number;
  notes: string[];
  targetText: string;
}

async function resolve(options: BlastOptions): Promise<Resolved> {
  const notes: string[] = [];
  const hosts = options.hosts ?? 100;
  if (!Number.isInteger(hosts) || hosts < 1) fail(`--hosts must be an integer >= 1, got ${hosts}`);
  const workers = options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1)
    fail(`--workers must be an integer >= 1, got ${workers}`);
  if (workers > hosts)
    fail(`--workers ${workers} is more than --hosts ${hosts}: every worker needs hosts`);
  if (options.mainThread && workers !== 1)
    fail(`sending from the main thread needs workers 1, got ${workers}`);
  const seed = options.seed ?? randomInt(0, 2 ** 32);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
    fail(`--seed must be an integer from 0 to 4294967295, got ${seed}`);
  const transportName = options.transport ?? "socket";
  if (!transportNames().includes(transportName)) {
    fail(`--transport ${transportName} is unknown (known: ${transportNames().join(", ")})`);
  }
  const size = options.size ?? { kind: "realistic" };
  if (size.kind === "fixed" && !(size.bytes >= 1 && size.bytes <= MAX_SIZE)) {
    fail(`--size must be from 1 to ${MAX_SIZE} bytes, got ${size.bytes}`);
  }
  if (size.kind === "range" && !(size.min >= 1 && size.max <= MAX_SIZE && size.min <= size.max)) {
    fail(`--size MIN-MAX must have 1 <= MIN <= MAX <= ${MAX_SIZE}, got ${size.min}-${size.max}`);
  }
  const loss = checkProbability("loss", options.loss);
  const reorder = checkProbability("reorder", options.reorder);
  const duplicate = checkProbability("duplicate", options.duplicate);
  const storm = checkProbability("storm", options.storm);
  const reorderDepth = options.reorderDepth ?? 3;
  if (!Number.isInteger(reorderDepth) || reorderDepth < 1)
    fail(`--reorder-depth must be an integer >= 1, got ${reorderDepth}`);
  const ratePps = options.ratePps ?? 0;
  if (!(ratePps >= 0)) fail(`--rate must be >= 0, got ${ratePps}`);
  const count = options.count ?? -1;
  if (options.count !== undefined && !(Number.isInteger(count) && count >= 0))
    fail(`--count must be an integer >= 0, got ${options.count}`);
  let durationMs = options.durationMs ?? 0;
  if (options.durationMs === undefined && options.count === undefined) durationMs = 10_000;
  if (!(durationMs >= 0)) fail(`--duration must be >= 0, got ${durationMs}`);
  if (options.ramp) {
    if (durationMs <= 0) fail("--ramp FROM:TO needs --duration (the ramp spans the whole run)");
    if (options.ramp[0] + options.ramp[1] <= 0)
      fail("--ramp needs a positive rate at one end at least");
  }
  const burst = options.burst ?? 1;
  if (!Number.isInteger(burst) || burst < 1) fail(`--burst must be an integer >= 1, got ${burst}`);
  if (burst > 1 && ratePps === 0 && !options.ramp)
    fail("--burst needs --rate or --ramp (unpaced sends are one long burst already)");
  const batch = options.batch ?? 256;
  if (!Number.isInteger(batch) || batch < 1 || batch > 4096)
    fail(`--batch must be an integer from 1 to 4096, got ${batch}`);
  if (options.stormAtMs !== undefined && !(options.stormAtMs >= 0))
    fail(`--storm-at must be a time >= 0, got ${options.stormAtMs}`);
  for (const [key] of options.userdata ?? []) {
    if (!/^[A-Za-z0-9_.-]{1,53}$/.test(key))
      fail(`--userdata key "${key}" must be 1-53 characters of A-Z a-z 0-9 _ . -`);
  }

  const parsed = parseTarget(options.target ?? DEFAULT_TARGET);
  if (!parsed)
    fail(`--target "${options.target}" must look like [::1]:1514, 127.0.0.1:1514 or host:port`);
  let target: Awaited<ReturnType<typeof resolveTarget>>;
  try {
    target = await resolveTarget(parsed);
  } catch (error) {
    fail(
      `--target ${options.target}: cannot resolve ${parsed.host} (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  }
  if (!isLoopbackEndpoint(target) && !options.allowRemote) {
    fail(
      `target ${formatEndpoint(target)} is not a loopback address; pass --allow-remote to send traffic there`,
    );
  }
  let choice: ReturnType<typeof chooseSources>;
  try {
    choice = chooseSources(options.sources ?? "auto", target, hosts);
  } catch (error) {
    fail((error as Error).message);
  }
  if (choice.note) notes.push(choice.note);
  const activeHosts = count >= 0 ? Math.min(hosts, count) : hosts;
  const transportOptions: TransportOptions = {
    target: choice.target,
    sources: choice.plan,
    hosts,
    shardHosts: Math.ceil(hosts / workers),
    activeHosts,
    allowRemote: options.allowRemote === true,
  };
  const transport = await loadTransport(transportName);
  const problem = await transport.check(transportOptions);
  if (problem) fail(problem);

  let stormAtMs = -1;
  if (storm > 0) stormAtMs = options.stormAtMs ?? (durationMs > 0 ? Math.floor(durationMs / 2) : 0);
  const active = impairmentsActive({ loss, duplicate, reorder });
  return {
    workers,
    ratePps,
    count,
    durationMs,
    notes,
    targetText: formatEndpoint(choice.target),
    task: {
      shards: workers,
      content: {
        seed,
        hosts,
        format: options.format ?? "extended",
        size,
        stamp: options.stamp ?? true,
        releasePrefix: options.releasePrefix ?? false,
        sysdata: { ...NO_SYSDATA, ...options.sysdata },
        userdata: options.userdata ?? [],
        caller: options.caller ?? false,
        startSeq: options.startSeq ?? "random",
        stormShare: storm,
      },
      transport: transportName,
      transportOptions,
      durationMs,
      impairments: active
        ? {
            seed,
            hosts,
            loss,
            duplicate,
            reorder,
            reorderDepth,
            recordEvents: options.truthFile !== undefined,
          }
        : null,
      stormAtMs,
      truth: options.truthFile !== undefined,
      batch,
    },
  };
}

/**
 * The workers' environment: Node's module compile cache switched on (unless the user switched
 * it off with NODE_DISABLE_COMPILE_CACHE). A worker thread that type-strips its .ts modules
 * itself loads Node's TypeScript stripper (amaro, WebAssembly) into its own isolate, ~17 MB per
 * worker for the whole run; with the cache, which holds the stripped output, it never loads it
 * (from the second run on; the first one fills the cache). The cache lives where Node puts it
 * by default, `$TMPDIR/node-compile-cache`, or in NODE_COMPILE_CACHE.
 */
function workerEnv(): NodeJS.ProcessEnv {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return process.env;
  const directory = process.env.NODE_COMPILE_CACHE || join(tmpdir(), "node-compile-cache");
  // Also for this thread's later imports; a failure (read-only disk...) only costs the memory.
  enableCompileCache(directory);
  return { ...process.env, NODE_COMPILE_CACHE: directory };
}

/** Hosts of shard `w` of `workers` (host h belongs to shard h % workers). */
function shardHosts(hosts: number, workers: number, w: number): number {
  return Math.ceil((hosts - w) / workers);
}

/**
 * Shard w's part of n messages, in proportion to its hosts so that every host sends the same
 * number (round-robin inside a shard); the parts add up to n exactly.
 */
function messageShare(n: number, hosts: number, workers: number, w: number): number {
  let given = 0;
  const parts: number[] = [];
  for (let i = 0; i < workers; i++) {
    parts.push(Math.floor((n * shardHosts(hosts, workers, i)) / hosts));
    given += parts[i];
  }
  for (let i = 0; given < n; i++, given++) parts[i]++;
  return parts[w];
}

export async function runBlast(
  options: BlastOptions,
  hooks: { onProgress?: (p: BlastProgress) => void; signal?: AbortSignal } = {},
): Promise<BlastReport> {
  const r = await resolve(options);
  const { workers, task } = r;
  const shared = sharedLayout(workers);
  const { control, startUs, rows } = sharedViews(shared);
  const stop = () => {
    Atomics.store(control, CONTROL.stop, 1);
    Atomics.notify(control, CONTROL.stop); // wakes a worker sleeping between paced slots
  };
  if (hooks.signal?.aborted) stop();
  hooks.signal?.addEventListener("abort", stop, { once: true });

  // Piscina itself is loaded only when worker threads are used.
  const pool = options.mainThread
    ? null
    : new (await import("piscina")).Piscina({
        filename: new URL("./worker.ts", import.meta.url).href,
        minThreads: workers,
        maxThreads: workers,
        concurrentTasksPerWorker: 1,
        idleTimeout: 60_000,
        env: workerEnv(),
        // The send loop allocates little, but V8 lets a worker's young generation grow to ~8 MB;
        // capping it saves ~4 MB a worker at 4 MB, and even 2 MB made no measurable difference per
        // packet (bench-blast, interleaved runs: 4.10 vs 4.14 CPU µs per packet).
        resourceLimits: { maxYoungGenerationSizeMb: 4 },
      });
  const tasks: Promise<ShardResult>[] = [];
  for (let shard = 0; shard < workers; shard++) {
    // Rates are shared in proportion to hosts too, so every host sends at the same pace.
    const part = shardHosts(task.content.hosts, workers, shard) / task.content.hosts;
    const rampShare = options.ramp
      ? {
          fromPps: options.ramp[0] * part,
          toPps: options.ramp[1] * part,
          overUs: r.durationMs * 1000,
        }
      : undefined;
    const shardTask: ShardTask = {
      ...task,
      shard,
      schedule: { ratePps: r.ratePps * part, ramp: rampShare, burst: options.burst ?? 1 },
      maxMessages: r.count < 0 ? -1 : messageShare(r.count, task.content.hosts, workers, shard),
      shared,
    };
    tasks.push(pool ? pool.run(shardTask) : runShard(shardTask));
  }
  // A shard that fails (cannot bind...) must not leave the others waiting for the start.
  const failed = Promise.race(tasks.map((t) => t.then(() => new Promise<never>(() => {}))));
  failed.catch(() => {}); // the failure itself is reported by Promise.all(tasks) below
  const ready = (async () => {
    while (Atomics.load(control, CONTROL.ready) < workers) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  })();
  let results: ShardResult[];
  let progressTimer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([ready, failed]);
    // Start ahead of now: every worker (polling for the go) is awake and waiting before the
    // first slot, so a loaded machine does not make the first batches late.
    const t0 = monotonicUs() + START_LEAD_US;
    startUs[0] = t0;
    Atomics.store(control, CONTROL.go, 1);
    if (hooks.onProgress) {
      let lastSent = 0;
      let lastUs = t0;
      const onProgress = hooks.onProgress;
      progressTimer = setInterval(() => {
        const totals = liveTotals(rows, workers);
        const now = monotonicUs();
        const ratePps = now > lastUs ? ((totals.sent - lastSent) * 1e6) / (now - lastUs) : 0;
        lastSent = totals.sent;
        lastUs = now;
        onProgress({
          elapsedMs: Math.max(0, (now - t0) / 1000),
          sent: totals.sent,
          errors: totals.errors,
          ratePps,
          messages: totals.messages,
        });
      }, 250);
    }
    results = await Promise.all(tasks);
  } catch (error) {
    stop();
    Atomics.store(control, CONTROL.go, 1);
    await Promise.allSettled(tasks);
    throw error;
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    hooks.signal?.removeEventListener("abort", stop);
    await pool?.destroy();
  }
  const report = await merge(options, r, results, startUs[0]);
  if (options.truthFile) await writeTruth(options.truthFile, report, results);
  return report;
}

function liveTotals(
  rows: Float64Array,
  workers: number,
): Record<(typeof LIVE_COUNTERS)[number], number> {
  const out = {} as Record<(typeof LIVE_COUNTERS)[number], number>;
  LIVE_COUNTERS.forEach((name, i) => {
    let sum = 0;
    for (let w = 0; w < workers; w++) sum += rows[w * LIVE_COUNTERS.length + i];
    out[name] = sum;
  });
  return out;
}

async function merge(
  options: BlastOptions,
  r: Resolved,
  results: ShardResult[],
  t0: number,
): Promise<BlastReport> {
  const c = sumCounters(results.map((x) => x.counters));
  const endUs = Math.max(...results.map((x) => x.endUs));
  const durationMs = Math.max(0, (endUs - t0) / 1000);
  const errorsByCode: Record<string, number> = {};
  for (const [key, value] of Object.entries(c)) {
    if (key.startsWith("error.")) errorsByCode[key.slice(6)] = value;
  }
  const expected = { messagesDelivered: 0, missing: 0, duplicates: 0, outOfOrder: 0 };
  for (const x of results) {
    for (const k of Object.keys(expected) as (keyof typeof expected)[])
      expected[k] += x.expected[k];
  }
  let lateness: LatencySummary | null = null;
  const encoded = results.map((x) => x.lateness).filter((e) => e !== "");
  if (encoded.length > 0) {
    // Only paced runs have lateness: only they load the histogram library (blaster/latency.ts).
    const { mergeEncoded, summarize } = await import("./latency.ts");
    const h = mergeEncoded(encoded);
    lateness = summarize(h);
    h.destroy();
  }
  const stopped = results.some((x) => x.stopped === "signal")
    ? "signal"
    : results.every((x) => x.stopped === "count")
      ? "count"
      : results.every((x) => x.stopped === "hosts")
        ? "hosts"
        : "duration";
  const { content, transportOptions } = r.task;
  const hosts = content.hosts;
  const plan = transportOptions.sources;
  const first = sourceAddress(plan, 0);
  const last = sourceAddress(plan, hosts - 1);
  const imp = r.task.impairments;
  return {
    target: r.targetText,
    transport: r.task.transport,
    sources: { kind: plan.kind, prefix: plan.prefix ?? null, first, last },
    seed: content.seed,
    hosts,
    workers: r.workers,
    mainThread: options.mainThread === true,
    format: content.format,
    size: describeSize(content.size),
    stamp: content.stamp,
    messages: c.messages ?? 0,
    messagesExtended: c.messagesExtended ?? 0,
    messagesLegacy: c.messagesLegacy ?? 0,
    stormMessages: c.stormMessages ?? 0,
    datagrams: c.datagrams ?? 0,
    packets: { sent: c.sent ?? 0, errors: c.errors ?? 0, bytes: c.bytes ?? 0, errorsByCode },
    fragmentsSent: c.fragmentsSent ?? 0,
    socketsOpened: c.opened ?? 0,
    icmpErrors: c.icmpErrors ?? 0,
    injected: { lost: c.lost ?? 0, reordered: c.reordered ?? 0, duplicated: c.duplicated ?? 0 },
    impairments: {
      loss: imp?.loss ?? 0,
      reorder: imp?.reorder ?? 0,
      reorderDepth: imp?.reorderDepth ?? options.reorderDepth ?? 3,
      duplicate: imp?.duplicate ?? 0,
    },
    expected,
    rate: {
      // A ramp asks for its average over the run.
      targetPps: options.ramp ? (options.ramp[0] + options.ramp[1]) / 2 : r.ratePps,
      achievedPps: durationMs > 0 ? ((c.sent ?? 0) * 1000) / durationMs : 0,
      ramp: options.ramp ?? null,
      burst: options.burst ?? 1,
    },
    latenessUs: lateness,
    cpu: {
      workerUs: c.cpuUs ?? 0,
      usPerPacket: (c.sent ?? 0) > 0 ? (c.cpuUs ?? 0) / (c.sent ?? 0) : 0,
    },
    durationMs,
    stopped,
    notes: r.notes,
    truthFile: options.truthFile ?? null,
  };
}

/**
 * The truth file, JSON Lines: a first line `{"kind":"run",...}` (seed, target, totals), then one
 * `{"kind":"host",...}` line per host that sent, with the seqs of its impaired datagrams.
 */
async function writeTruth(
  file: string,
  report: BlastReport,
  results: ShardResult[],
): Promise<void> {
  const out = createWriteStream(file);
  const write = async (value: unknown) => {
    if (!out.write(`${JSON.stringify(value)}\n`)) await once(out, "drain");
  };
  await write({
    kind: "run",
    seed: report.seed,
    target: report.target,
    hosts: report.hosts,
    messages: report.messages,
    injected: report.injected,
    expected: report.expected,
    maxPayloadBytes: MAX_PRINT_CHUNK,
  });
  const byHost = new Map<
    number,
    { lost: number[][]; duplicated: number[][]; reordered: number[][] }
  >();
  for (const x of results) {
    for (const e of x.events ?? []) {
      let h = byHost.get(e.host);
      if (!h) {
        h = { lost: [], duplicated: [], reordered: [] };
        byHost.set(e.host, h);
      }
      h[e.kind].push([e.seq, e.fragment]);
    }
  }
  const hosts = results.flatMap((x) => x.hosts ?? []).sort((a, b) => a.host - b.host);
  for (const h of hosts) {
    const events = byHost.get(h.host) ?? { lost: [], duplicated: [], reordered: [] };
    await write({ kind: "host", ...h, ...events });
  }
  out.end();
  await once(out, "finish");
}
