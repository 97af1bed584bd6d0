/**
 * Transport benchmark, side by side in one run: datagrams per second of the socket-per-host
 * (`dgram`), udp-batch and raw transports with 64-byte netconsblaster-like payloads, for 1 and 2
 * worker threads, into a sink socket on loopback that is never read (the kernel drops what does
 * not fit, as for any slow receiver, so no receiver competes for the CPU). Then the memory of a
 * raw sender cycling through 1,000,000 hosts.
 *
 *   npm run bench:blaster-transports -- [--duration 3] [--hosts 1000] [--payload 64]
 *     [--workers 1,2] [--transports socket,udp-batch,raw,raw6,raw-ceiling,raw-build]
 *     [--memory-hosts 1000000]
 *     [--rounds 3] [--json FILE|-]
 *
 * `raw-ceiling` sends one prebuilt batch over and over (no JavaScript per datagram): the most
 * the kernel's raw path gives on this machine, against which the raw transport is measured.
 * `raw-build` builds IPv4 datagrams without sending them: the JavaScript share per datagram.
 *
 * Figures are for the transport layer alone (the engine's codec and pacing are not in the loop);
 * every transport gets the same loop, payload writes and batch size.
 */
import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { DatagramBatch } from "../../blaster/raw/batch.ts";
import { loadNetRaw, requireNetRaw } from "../../blaster/raw/native.ts";
import { DatagramBuilder } from "../../blaster/raw/packet.ts";
import { wirePlan } from "../../blaster/raw/plan.ts";
import { loadTransport, type TransportOptions } from "../../blaster/transport.ts";
import { writeJson } from "../output-files.ts";
import { watchMachine } from "./machine.ts";
import { medianBy } from "./stats.ts";

const BATCH = 256;
/** Set in the child process of a memory run: the job to run in the main thread. */
const CHILD_JOB_ENV = "NCB_RAW_BENCH_JOB";

interface Job {
  transport: string;
  options: TransportOptions;
  /** This worker's hosts: [first, first + count). */
  first: number;
  count: number;
  payloadBytes: number;
  warmupMs: number;
  durationMs: number;
  /** Keep going past durationMs until every host has sent this many times (capped at 60 s). */
  untilCycles?: number;
}

interface JobResult {
  sent: number;
  errors: number;
  elapsedMs: number;
  hostsCycled: number;
}

/** A netconsblaster-style extended payload: `6,<seq>,<ts>,-;` + digit filler + LF. */
function payloadTemplate(bytes: number): Buffer {
  const head = "6,0000000000,0000000000,-;";
  const fill = "0123456789"
    .repeat(Math.ceil(bytes / 10))
    .slice(0, Math.max(0, bytes - head.length - 1));
  return Buffer.from(`${head}${fill}\n`.slice(0, bytes));
}

/** Writes `n` as 10 decimal digits at `at` (no string work per datagram). */
function writeDigits(buf: Buffer, at: number, n: number): void {
  for (let i = 9; i >= 0; i--) {
    buf[at + i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
}

/** The wire plan, datagram builder, one batch's room and the payload template of a raw job. */
function rawSetup(job: Job) {
  const plan = wirePlan(job.options);
  const builder = new DatagramBuilder({
    prefix: plan.prefix!,
    destination: plan.destination,
    destinationPort: plan.port,
  });
  const batch = new DatagramBatch(BATCH, BATCH * (builder.sizeFor(job.payloadBytes) + 8));
  return { plan, builder, batch, payload: payloadTemplate(job.payloadBytes) };
}

/**
 * The kernel's ceiling for raw sends here: one batch of datagrams built once, then sent again
 * and again, so no JavaScript runs per datagram. What the raw transport can approach at best.
 */
function runCeiling(job: Job): JobResult {
  const addon = requireNetRaw("the benchmark");
  const { plan, builder, batch, payload } = rawSetup(job);
  for (let i = 0; i < BATCH; i++) {
    batch.commit(builder.write(batch.buffer, batch.used, job.first + (i % job.count), payload));
  }
  const fd = addon.open(
    plan.family === 6 ? "raw6" : "raw4",
    undefined,
    undefined,
    plan.destination,
  );
  const r = new Int32Array(4);
  let sent = 0;
  let errors = 0;
  const start = performance.now();
  const warmEnd = start + job.warmupMs;
  const end = warmEnd + job.durationMs;
  let at = start;
  for (let now = start; now < end; now = performance.now()) {
    if (now < warmEnd) at = now;
    addon.sendBatch(fd, batch.buffer, batch.offsets, batch.lengths, batch.count, r);
    if (now >= warmEnd) {
      sent += r[0];
      errors += r[1];
    }
  }
  addon.close(fd);
  return { sent, errors, elapsedMs: performance.now() - at, hostsCycled: 0 };
}

/**
 * Packet building alone (headers, source address, checksums, payload copy; nothing sent): the
 * JavaScript share of the raw transport's cost per datagram.
 */
function runBuildOnly(job: Job): JobResult {
  const { builder, batch, payload } = rawSetup(job);
  let built = 0;
  let cursor = 0;
  const start = performance.now();
  const end = start + job.warmupMs + job.durationMs;
  let at = start;
  for (let now = start; now < end; now = performance.now()) {
    const counting = now >= start + job.warmupMs;
    if (!counting) at = now;
    batch.clear();
    for (let i = 0; i < BATCH; i++) {
      writeDigits(payload, 2, built + i);
      batch.commit(builder.write(batch.buffer, batch.used, job.first + cursor, payload));
      if (++cursor === job.count) cursor = 0;
    }
    if (counting) built += BATCH;
  }
  return { sent: built, errors: 0, elapsedMs: performance.now() - at, hostsCycled: 0 };
}

async function runJob(job: Job): Promise<JobResult> {
  if (job.transport === "raw-ceiling") return runCeiling(job);
  if (job.transport === "raw-build") return runBuildOnly(job);
  const mod = await loadTransport(job.transport);
  const t = await mod.create(job.options);
  const template = payloadTemplate(job.payloadBytes);
  const slab = Buffer.alloc(BATCH * job.payloadBytes);
  for (let i = 0; i < BATCH; i++) template.copy(slab, i * job.payloadBytes);
  const hosts = new Int32Array(BATCH);
  let cursor = 0;
  let seq = 0;
  let hostsCycled = 0;
  const start = performance.now();
  const warmEnd = start + job.warmupMs;
  const end = warmEnd + job.durationMs;
  let base: { sent: number; errors: number; at: number } | null = null;
  const cap = end + 60_000;
  const more = (now: number) => now < end || (hostsCycled < (job.untilCycles ?? 0) && now < cap);
  for (let now = start; more(now); now = performance.now()) {
    if (base === null && now >= warmEnd) {
      base = { sent: t.counters.sent, errors: t.counters.errors, at: now };
    }
    for (let i = 0; i < BATCH; i++) {
      hosts[i] = job.first + cursor;
      if (++cursor === job.count) {
        cursor = 0;
        hostsCycled++;
      }
    }
    const ready = t.prepare(hosts, BATCH);
    if (ready) await ready;
    for (let i = 0; i < BATCH; i++) {
      const at = i * job.payloadBytes;
      writeDigits(slab, at + 2, seq++);
      t.send(hosts[i], slab, at, job.payloadBytes);
    }
    const flushed = t.flush();
    if (flushed) await flushed;
  }
  const stop = performance.now();
  const result: JobResult = {
    sent: t.counters.sent - (base?.sent ?? 0),
    errors: t.counters.errors - (base?.errors ?? 0),
    elapsedMs: stop - (base?.at ?? start),
    hostsCycled,
  };
  await t.close();
  return result;
}

function runInWorker(job: Job): Promise<JobResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: job });
    worker.once("message", resolve);
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}`));
    });
  });
}

/** A UDP socket bound on `address` and never read: the sink every transport sends to. */
function openSink(family: 4 | 6, port: number): number {
  return requireNetRaw("the benchmark").open(
    family === 6 ? "udp6" : "udp4",
    family === 6 ? "::1" : "127.0.0.1",
    port,
  );
}

interface Row {
  transport: string;
  workers: number;
  ratePps: number;
  perWorkerPps: number[];
  /** Every round's rate, sorted (ratePps is their median). */
  roundsPps: number[];
  errors: number;
  /** Busy share of the whole machine (all cores, all processes, softirq included) during the run. */
  machineBusyPercent: number;
  vsSocket: number | null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: "string", default: "3" },
      hosts: { type: "string", default: "1000" },
      payload: { type: "string", default: "64" },
      workers: { type: "string", default: "1,2" },
      transports: {
        type: "string",
        default: "socket,udp-batch,raw,raw6,raw-ceiling,raw-build",
      },
      "memory-hosts": { type: "string", default: "1000000" },
      rounds: { type: "string", default: "3" },
      json: { type: "string" },
    },
  });
  const durationMs = Number(values.duration) * 1000;
  const hosts = Number(values.hosts);
  const payloadBytes = Number(values.payload);
  const workerCounts = values.workers.split(",").map(Number);
  const transports = values.transports.split(",");
  const memoryHosts = Number(values["memory-hosts"]);
  const rounds = Math.max(1, Number(values.rounds));
  const loaded = loadNetRaw();
  if ("error" in loaded) throw new Error(`the benchmark needs ${loaded.error}`);

  // One port for both families' sinks; try a few until both bind.
  let port = 0;
  const sinks: number[] = [];
  for (let attempt = 0; attempt < 20 && sinks.length < 2; attempt++) {
    port = 20000 + Math.floor(Math.random() * 30000);
    sinks.length = 0;
    try {
      sinks.push(openSink(4, port));
      sinks.push(openSink(6, port));
    } catch {
      for (const fd of sinks) loaded.addon.close(fd);
      sinks.length = 0;
    }
  }
  if (sinks.length < 2) throw new Error("could not bind the sink sockets");

  const optionsFor = (
    transport: string,
    hostCount: number,
  ): { name: string; options: TransportOptions } => {
    const v6 = transport === "raw6";
    const ceiling = transport === "raw-ceiling" || transport === "raw-build";
    return {
      name: v6 || ceiling ? "raw" : transport,
      options: {
        target: v6
          ? { address: "::1", port, family: 6 }
          : { address: "127.0.0.1", port, family: 4 },
        sources: v6
          ? { kind: "ipv6-prefix", prefix: "2001:db8:1::/64" }
          : { kind: "ipv4-loopback", prefix: "127.0.0.0/8" },
        hosts: hostCount,
        shardHosts: hostCount,
        activeHosts: hostCount,
      },
    };
  };

  // Rounds interleave the transports, so drift in the shared machine's load hits all alike;
  // each row reports the median round.
  const runs = new Map<
    string,
    { ratePps: number; perWorkerPps: number[]; errors: number; busy: number }[]
  >();
  for (let round = 0; round < rounds; round++) {
    for (const workers of workerCounts) {
      for (const transport of transports) {
        const { name, options } = optionsFor(transport, hosts);
        const check = await (await loadTransport(name)).check(options);
        if (check) {
          if (round === 0) process.stderr.write(`skipping ${transport}: ${check}\n`);
          continue;
        }
        const share = Math.floor(hosts / workers);
        const watch = watchMachine();
        const results = await Promise.all(
          Array.from({ length: workers }, (_, w) =>
            runInWorker({
              transport: transport.startsWith("raw-") ? transport : name,
              options: { ...options, shardHosts: share },
              first: w * share,
              count: share,
              payloadBytes,
              warmupMs: 500,
              durationMs,
            }),
          ),
        );
        const perWorkerPps = results.map((r) => Math.round((r.sent / r.elapsedMs) * 1000));
        const key = `${transport}/${workers}`;
        if (!runs.has(key)) runs.set(key, []);
        runs.get(key)!.push({
          ratePps: perWorkerPps.reduce((a, b) => a + b, 0),
          perWorkerPps,
          errors: results.reduce((a, r) => a + r.errors, 0),
          busy: Math.round(watch().busyPercent ?? 0),
        });
      }
    }
  }
  const rows: Row[] = [];
  for (const workers of workerCounts) {
    const median = (transport: string) => {
      const list = runs.get(`${transport}/${workers}`) ?? [];
      const middle = medianBy(list, (r) => r.ratePps);
      return middle ? { ...middle, all: list.map((r) => r.ratePps).sort((a, b) => a - b) } : null;
    };
    const socketRate = median("socket")?.ratePps ?? null;
    for (const transport of transports) {
      const m = median(transport);
      if (!m) continue;
      rows.push({
        transport,
        workers,
        ratePps: m.ratePps,
        roundsPps: m.all,
        perWorkerPps: m.perWorkerPps,
        errors: m.errors,
        machineBusyPercent: m.busy,
        vsSocket: socketRate ? Math.round((m.ratePps / socketRate) * 100) / 100 : null,
      });
    }
  }

  // Memory: a fresh process per run (RSS is per process, and earlier runs leave heap behind),
  // a raw sender cycling through every host, next to the same with only `hosts` hosts, so the
  // difference is what the host count costs.
  const memory: { hosts: number; hostsCycled: number; peakRssMb: number; sent: number }[] = [];
  if (memoryHosts > 0 && transports.some((t) => t.startsWith("raw"))) {
    for (const count of [hosts, memoryHosts]) {
      const { name, options } = optionsFor("raw6", count);
      if (await (await loadTransport(name)).check(options)) break;
      const job: Job = {
        transport: name,
        options,
        first: 0,
        count,
        payloadBytes,
        warmupMs: 0,
        durationMs,
        untilCycles: 1,
      };
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url)], {
        env: { ...process.env, [CHILD_JOB_ENV]: JSON.stringify(job) },
        encoding: "utf8",
      });
      const r = JSON.parse(out) as JobResult & { peakRssBytes: number };
      memory.push({
        hosts: count,
        hostsCycled: r.hostsCycled,
        peakRssMb: Math.round((r.peakRssBytes / 2 ** 20) * 10) / 10,
        sent: r.sent,
      });
    }
  }
  for (const fd of sinks) loaded.addon.close(fd);

  const result = { payloadBytes, hosts, durationMs, rounds, batch: BATCH, rows, memory };
  if (values.json) writeJson(values.json, result);
  if (values.json === "-") return;
  process.stdout.write(
    `payload ${payloadBytes} B, ${hosts} hosts, ${durationMs / 1000} s per run after 0.5 s warm-up, ${rounds} rounds, batch ${BATCH}, ${cpus().length} CPUs\n`,
  );
  process.stdout.write(
    "transport   workers   pkt/s (median)  rounds                     per worker          vs socket  machine busy  errors\n",
  );
  for (const r of rows) {
    process.stdout.write(
      `${r.transport.padEnd(11)} ${String(r.workers).padEnd(9)} ${String(r.ratePps).padEnd(15)} ${r.roundsPps.join(" ").padEnd(26)} ${r.perWorkerPps.join(" + ").padEnd(19)} ${(r.vsSocket === null ? "-" : `${r.vsSocket}x`).padEnd(10)} ${`${r.machineBusyPercent}%`.padEnd(13)} ${r.errors}\n`,
    );
  }
  for (const m of memory) {
    process.stdout.write(
      `raw6 sender alone (one process, no worker) with ${m.hosts} hosts: peak RSS ${m.peakRssMb} MB, ${m.sent} datagrams, ${m.hostsCycled} full cycles through every host\n`,
    );
  }
}

if (isMainThread && process.env[CHILD_JOB_ENV]) {
  const result = await runJob(JSON.parse(process.env[CHILD_JOB_ENV]) as Job);
  process.stdout.write(
    JSON.stringify({ ...result, peakRssBytes: process.resourceUsage().maxRSS * 1024 }),
  );
} else if (isMainThread) {
  await main();
} else {
  parentPort!.postMessage(await runJob(workerData as Job));
}
