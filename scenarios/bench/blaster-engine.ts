/**
 * The blaster's engine against a bare send loop, side by side in one run (the machine is shared, so only ratios measured in
 * the same run mean much; rounds are interleaved and the median is reported):
 *
 * 1. engine vs bare loop: runBlast with one worker, 64-byte extended payloads, unpaced, against a
 *    bare Node dgram loop (in a worker thread too) sending one fixed 64-byte payload through one
 *    connected socket. Target: engine >= 0.85 of bare.
 * 2. two workers vs one: the same runBlast with --workers 2 and 1. Target: >= 1.6x (only
 *    reachable when two cores are free; the figure says how busy the machine was).
 * 3. pacing: runBlast at --rate 50000 for 10 s: achieved rate against the target (within 1%),
 *    and the lateness of actual against intended send time (p50/p99/p99.9/max).
 *
 * The sink is a UDP socket bound in a child process whose event loop is blocked, so it is never
 * read: the kernel drops what does not fit its buffer, and no receiver competes for the CPU.
 *
 *   npm run bench:blaster-engine -- [--seconds 3] [--rounds 3] [--hosts 100]
 *     [--pacing-seconds 10] [--pacing-rate 50000] [--skip throughput,workers,pacing] [--json FILE]
 */
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { runBlast } from "../../blaster/blast.ts";
import type { BlastReport } from "../../blaster/blast-report.ts";
import { watchMachine } from "./machine.ts";
import { median } from "./stats.ts";

interface BareJob {
  port: number;
  seconds: number;
  payload: Uint8Array;
}

/** The bare loop: one connected socket, the same payload, batches of 256 like the engine. */
interface BareResult {
  sent: number;
  errors: number;
  seconds: number;
  /** CPU time of the sending thread (µs). */
  cpuUs: number;
}

async function bareLoop(job: BareJob): Promise<BareResult> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.2", () => resolve()));
  await new Promise<void>((resolve) => socket.connect(job.port, "127.0.0.1", () => resolve()));
  const payload = Buffer.from(job.payload);
  let sent = 0;
  let errors = 0;
  const onSent = (error: Error | null) => {
    if (error) errors++;
    else sent++;
  };
  const start = performance.now();
  const cpuStart = process.threadCpuUsage();
  const end = start + job.seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 256; i++) socket.send(payload, onSent);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const seconds = (performance.now() - start) / 1000;
  await new Promise((resolve) => setImmediate(resolve));
  const cpu = process.threadCpuUsage(cpuStart);
  socket.close();
  return { sent, errors, seconds, cpuUs: cpu.user + cpu.system };
}

if (!isMainThread) {
  parentPort!.postMessage(await bareLoop(workerData as BareJob));
} else {
  await main();
}

function runBare(job: BareJob): Promise<BareResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: job });
    worker.once("message", resolve);
    worker.once("error", reject);
  });
}

/** A UDP port that is bound and never read: a child process that blocks its own event loop. */
async function startSink(seconds: number): Promise<{ port: number; stop: () => void }> {
  const code = `
    const s = require("node:dgram").createSocket("udp4");
    s.bind(0, "127.0.0.1", () => {
      process.stdout.write(String(s.address().port) + "\\n");
      // Block the loop: the socket is never read, the kernel drops what overflows its buffer.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${Math.ceil(seconds * 1000)});
      process.exit(0);
    });`;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (d) => resolve(Number(String(d).trim())));
    child.once("error", reject);
  });
  return { port, stop: () => child.kill() };
}

/** The machine's busy share (0..1, all processes) from now until the returned function is called. */
function cpuBusy(): () => number {
  const watch = watchMachine();
  return () => (watch().busyPercent ?? 0) / 100;
}

/** netconsblaster's payload shape: `lvl,seq,ts,-;` + digit filler + LF, 64 bytes. */
function bareTemplate(): Uint8Array {
  const head = "6,1234567,98765432,-;";
  return Buffer.from(head + "0123456789".repeat(5).slice(0, 64 - head.length - 1) + "\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "3" },
      rounds: { type: "string", default: "3" },
      hosts: { type: "string", default: "100" },
      "pacing-seconds": { type: "string", default: "10" },
      "pacing-rate": { type: "string", default: "50000" },
      skip: { type: "string", default: "" },
      json: { type: "string" },
    },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const hosts = Number(values.hosts);
  const pacingSeconds = Number(values["pacing-seconds"]);
  const pacingRate = Number(values["pacing-rate"]);
  const skip = new Set(values.skip.split(",").filter(Boolean));
  const sink = await startSink(rounds * seconds * 6 + pacingSeconds + 60);
  const target = `127.0.0.1:${sink.port}`;
  const out: Record<string, unknown> = {
    node: process.version,
    cpus: cpus().length,
    loadAverage1m: loadavg()[0],
    seconds,
    rounds,
    hosts,
  };
  const blast = (workers: number, extra: Partial<Parameters<typeof runBlast>[0]> = {}) =>
    runBlast({
      target,
      hosts,
      workers,
      duration: `${seconds}s`,
      format: "extended",
      size: { kind: "fixed", bytes: 64 },
      seed: 1,
      ...extra,
    });
  const pps = (r: BlastReport) => r.packets.sent / (r.durationMs / 1000);
  console.log(
    `blaster bench: ${seconds} s per trial, ${rounds} interleaved rounds, ${hosts} hosts, ${cpus().length} CPUs, load ${loadavg()[0].toFixed(2)}`,
  );

  try {
    if (!skip.has("throughput")) {
      const bare: number[] = [];
      const engine: number[] = [];
      const bareCpu: number[] = [];
      const engineCpu: number[] = [];
      const busy: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const b = await runBare({ port: sink.port, seconds, payload: bareTemplate() });
        bare.push(b.sent / b.seconds);
        bareCpu.push(b.cpuUs / b.sent);
        const done = cpuBusy();
        const r = await blast(1);
        busy.push(done());
        engine.push(pps(r));
        engineCpu.push(r.cpu.usPerPacket);
        console.log(
          `  round ${round + 1}: bare dgram ${Math.round(bare[round])} pps (${bareCpu[round].toFixed(2)} CPU µs/packet), runBlast 1 worker ${Math.round(engine[round])} pps (${engineCpu[round].toFixed(2)} CPU µs/packet): ${(engine[round] / bare[round]).toFixed(3)}, machine busy ${(busy[round] * 100).toFixed(0)}%`,
        );
      }
      const ratio = median(engine) / median(bare);
      // Throughput per CPU second: the same ratio, free of what other processes took.
      const cpuRatio = median(bareCpu) / median(engineCpu);
      out.throughput = {
        bareDgramPps: Math.round(median(bare)),
        blastOneWorkerPps: Math.round(median(engine)),
        ratio: Number(ratio.toFixed(3)),
        bareCpuUsPerPacket: Number(median(bareCpu).toFixed(3)),
        blastCpuUsPerPacket: Number(median(engineCpu).toFixed(3)),
        cpuRatio: Number(cpuRatio.toFixed(3)),
        target: 0.85,
        pass: ratio >= 0.85,
        machineBusyPercent: Math.round(median(busy) * 100),
      };
      console.log(
        `1 worker, 64-byte extended: runBlast ${Math.round(median(engine))} pps vs bare dgram ${Math.round(median(bare))} pps = ${ratio.toFixed(3)} (target >= 0.85); per CPU second ${cpuRatio.toFixed(3)} (${median(engineCpu).toFixed(2)} vs ${median(bareCpu).toFixed(2)} µs/packet)`,
      );
    }

    if (!skip.has("workers")) {
      const one: number[] = [];
      const two: number[] = [];
      const oneCpu: number[] = [];
      const twoCpu: number[] = [];
      const busy: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const a = await blast(1);
        one.push(pps(a));
        oneCpu.push(a.cpu.usPerPacket);
        const done = cpuBusy();
        const b = await blast(2);
        busy.push(done());
        two.push(pps(b));
        twoCpu.push(b.cpu.usPerPacket);
        console.log(
          `  round ${round + 1}: 1 worker ${Math.round(one[round])} pps (${oneCpu[round].toFixed(2)} CPU µs/packet), 2 workers ${Math.round(two[round])} pps (${twoCpu[round].toFixed(2)} CPU µs/packet): ${(two[round] / one[round]).toFixed(2)}x, machine busy during 2 workers ${(busy[round] * 100).toFixed(0)}%`,
        );
      }
      const ratio = median(two) / median(one);
      out.workers = {
        oneWorkerPps: Math.round(median(one)),
        twoWorkersPps: Math.round(median(two)),
        ratio: Number(ratio.toFixed(3)),
        oneWorkerCpuUsPerPacket: Number(median(oneCpu).toFixed(3)),
        twoWorkersCpuUsPerPacket: Number(median(twoCpu).toFixed(3)),
        // With two free cores each worker sends at 1 / (its CPU per packet): what the machine's
        // other load hides from the wall-clock ratio.
        projectedRatioOnTwoFreeCores: Number(((2 * median(oneCpu)) / median(twoCpu)).toFixed(3)),
        target: 1.6,
        pass: ratio >= 1.6,
        machineBusyPercent: Math.round(median(busy) * 100),
      };
      console.log(
        `2 workers vs 1: ${Math.round(median(two))} vs ${Math.round(median(one))} pps = ${ratio.toFixed(2)}x (target >= 1.6x; ${cpus().length} CPUs shared with the rest of the machine); CPU per packet ${median(twoCpu).toFixed(2)} vs ${median(oneCpu).toFixed(2)} µs, so ${((2 * median(oneCpu)) / median(twoCpu)).toFixed(2)}x on two free cores`,
      );
    }

    if (!skip.has("pacing")) {
      const done = cpuBusy();
      const r = await runBlast({
        target,
        hosts,
        workers: 1,
        rate: pacingRate,
        duration: `${pacingSeconds}s`,
        format: "extended",
        size: { kind: "fixed", bytes: 64 },
        seed: 1,
      });
      const achieved = r.rate.achievedPps;
      const error = achieved / pacingRate - 1;
      const l = r.latenessUs!;
      out.pacing = {
        targetPps: pacingRate,
        achievedPps: Math.round(achieved),
        errorPercent: Number((error * 100).toFixed(3)),
        pass: Math.abs(error) <= 0.01,
        latenessUs: l,
        sendErrors: r.packets.errors,
        machineBusyPercent: Math.round(done() * 100),
      };
      console.log(
        `pacing at ${pacingRate} pps for ${pacingSeconds} s: achieved ${Math.round(achieved)} pps (${(error * 100).toFixed(3)}%), lateness p50 ${l.p50} µs, p99 ${l.p99} µs, p99.9 ${l.p999} µs, max ${l.max} µs`,
      );
    }
  } finally {
    sink.stop();
  }
  if (values.json) writeFileSync(values.json, `${JSON.stringify(out, null, 2)}\n`);
}
