/**
 * The blaster against netconsblaster, side by side in one run: packets per second and CPU per
 * packet of netconsblaster and of our transports (one thread each, 64-byte extended payloads,
 * 1,024 hosts, a few seconds each) into the same sink, a UDP socket bound on ::1 that is never
 * read; then paced runs of the best transport (CPU per packet against unpaced, lateness p99,
 * achieved rate) and 2 workers against 1. Only ratios measured in the same run mean much on a
 * shared machine.
 *
 *   npm run bench:blaster -- [--seconds 3] [--hosts 1024] [--rounds 1] [--rates 10000,50000,100000]
 *     [--pacing-quantum 200us] [--transports udp-batch,udp-batch-gso,udp-batch-hosts,raw,socket]
 *     [--skip netconsblaster,pacing,workers] [--netconsblaster PATH] [--json FILE|-]
 *
 * netconsblaster comes from --netconsblaster or NETCONSBLASTER (it needs root for its raw IPv6
 * socket); without it the run says so and compares our transports only. CPU per packet: for
 * netconsblaster its process's run time from /proc/PID/task/TID/schedstat (its sending thread
 * is its only busy one), for ours the send loop's thread CPU time (process.threadCpuUsage), with
 * the whole process's CPU time beside it. Paced runs send from the main thread and also say how
 * long its event loop (progress output, signals) had to wait (p99 and max).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { runBlast } from "../../blaster/blast.ts";
import { requireNetRaw } from "../../blaster/raw/native.ts";
import { humanOut, writeJson } from "../output-files.ts";
import { watchMachine } from "./machine.ts";
import { median } from "./stats.ts";

/** One of our senders: a transport with its sources and GSO setting. */
interface Sender {
  name: string;
  transport: string;
  sources: string;
  gso: "auto" | "on" | "off";
}

const SENDERS: Record<string, Sender> = {
  "udp-batch": { name: "udp-batch", transport: "udp-batch", sources: "shared", gso: "off" },
  "udp-batch-gso": { name: "udp-batch-gso", transport: "udp-batch", sources: "shared", gso: "on" },
  "udp-batch-hosts": {
    name: "udp-batch-hosts",
    transport: "udp-batch",
    sources: "2001:db8:1::/64",
    gso: "auto",
  },
  raw: { name: "raw", transport: "raw", sources: "2001:db8:1::/64", gso: "off" },
  socket: { name: "socket", transport: "socket", sources: "shared", gso: "off" },
};

export interface SendFigures {
  sender: string;
  pps: number;
  /** CPU µs per packet of the sending thread. */
  cpuUsPerPacket: number;
  /** CPU µs per packet of the whole process (ours: every thread of this process during the run). */
  processCpuUsPerPacket: number;
  /** Packets per CPU-second against netconsblaster's (null without it). */
  perCoreVsNetconsblaster: number | null;
  errors: number;
}

/** Sum of the run times (ns) of every thread of a process, from /proc/PID/task/TID/schedstat. */
function processRunNs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
  }
  return ns;
}

async function runNetconsblaster(
  path: string,
  port: number,
  hosts: number,
  seconds: number,
): Promise<{ pps: number; cpuUsPerPacket: number; packets: number }> {
  const bits = Math.max(1, Math.ceil(Math.log2(hosts)));
  const child: ChildProcess = spawn(
    path,
    ["-s", "::1", "-d", "::1", "-p", String(port), "-o", String(bits)],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout!.on("data", (d) => {
    out += d;
  });
  child.stderr!.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const start = performance.now();
  await sleep(seconds * 1000);
  const runNs = processRunNs(child.pid!);
  const elapsed = (performance.now() - start) / 1000;
  child.kill("SIGINT");
  const code = await exited;
  const m = /Wrote (\d+) packets/.exec(out);
  if (code !== 0 || !m) throw new Error(`netconsblaster failed (exit ${code}): ${out.trim()}`);
  const packets = Number(m[1]);
  return { pps: packets / elapsed, cpuUsPerPacket: runNs / 1000 / packets, packets };
}

async function runOurs(
  sender: Sender,
  port: number,
  options: { hosts: number; seconds: number; workers: number; rate: number; quantum: string },
) {
  const cpuBefore = process.cpuUsage();
  const report = await runBlast(
    {
      target: `[::1]:${port}`,
      transport: sender.transport,
      sources: sender.sources,
      gso: sender.gso,
      hosts: options.hosts,
      workers: options.workers,
      size: 64,
      format: "extended",
      duration: `${options.seconds}s`,
      rate: options.rate,
      pacingQuantum: options.quantum,
      seed: 1,
    },
    { mainThread: options.workers === 1 },
  );
  const cpu = process.cpuUsage(cpuBefore);
  const sent = report.packets.sent;
  return {
    report,
    pps: sent / (report.durationMs / 1000),
    cpuUsPerPacket: report.cpu.usPerPacket,
    processCpuUsPerPacket: (cpu.user + cpu.system) / Math.max(1, sent),
  };
}

/** CPU µs one 200 µs sleep and wake-up costs this thread (the floor under paced CPU). */
function sleepCostUs(): number {
  const word = new Int32Array(new SharedArrayBuffer(4));
  const before = process.threadCpuUsage();
  for (let i = 0; i < 200; i++) Atomics.wait(word, 0, 0, 0.2);
  const cpu = process.threadCpuUsage(before);
  return (cpu.user + cpu.system) / 200;
}

const round3 = (n: number) => Number(n.toFixed(3));

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: "string", default: "3" },
      hosts: { type: "string", default: "1024" },
      rounds: { type: "string", default: "1" },
      rates: { type: "string", default: "10000,50000,100000" },
      "pacing-quantum": { type: "string", default: "200us" },
      transports: { type: "string", default: Object.keys(SENDERS).join(",") },
      skip: { type: "string", default: "" },
      netconsblaster: { type: "string", default: process.env.NETCONSBLASTER ?? "" },
      json: { type: "string" },
    },
  });
  const seconds = Number(values.seconds);
  const hosts = Number(values.hosts);
  const rounds = Number(values.rounds);
  const rates = values.rates.split(",").filter(Boolean).map(Number);
  const skip = new Set(values.skip.split(",").filter(Boolean));
  const names = values.transports.split(",").filter(Boolean);
  for (const name of names)
    if (!SENDERS[name]) throw new Error(`unknown sender ${name} (known: ${Object.keys(SENDERS)})`);
  const out = humanOut(values.json);
  const say = (line: string) => out.write(`${line}\n`);
  const machine = watchMachine();

  const addon = requireNetRaw("the blaster benchmark");
  const sink = addon.openListener("::1", 0, 0);
  const port = addon.socketInfo(sink).port;

  const blasterPath = values.netconsblaster;
  let blasterNote: string | null = null;
  if (skip.has("netconsblaster")) blasterNote = "skipped (--skip netconsblaster)";
  else if (!blasterPath)
    blasterNote = "not given (--netconsblaster PATH or NETCONSBLASTER=PATH): ours only";
  else if (!existsSync(blasterPath)) blasterNote = `${blasterPath} does not exist: ours only`;
  else if (process.getuid?.() !== 0) blasterNote = "needs root for its raw IPv6 socket: ours only";
  if (blasterNote) say(`netconsblaster ${blasterNote}`);

  say(
    `blaster vs netconsblaster: 64-byte extended, ${hosts} hosts, one thread, ${seconds} s each, ${rounds} round(s), sink [::1]:${port} never read`,
  );
  const result: Record<string, unknown> = { seconds, hosts, rounds, netconsblaster: blasterNote };
  try {
    // 1. One thread each, unpaced, rounds interleaved.
    const blasterRuns: { pps: number; cpuUsPerPacket: number }[] = [];
    const ours = new Map<
      string,
      { pps: number; cpu: number; processCpu: number; errors: number }[]
    >();
    for (let round = 0; round < rounds; round++) {
      if (!blasterNote)
        blasterRuns.push(await runNetconsblaster(blasterPath, port, hosts, seconds));
      for (const name of names) {
        const r = await runOurs(SENDERS[name], port, {
          hosts,
          seconds,
          workers: 1,
          rate: 0,
          quantum: values["pacing-quantum"],
        });
        const list = ours.get(name) ?? [];
        list.push({
          pps: r.pps,
          cpu: r.cpuUsPerPacket,
          processCpu: r.processCpuUsPerPacket,
          errors: r.report.packets.errors,
        });
        ours.set(name, list);
      }
    }
    const blasterCpu = blasterRuns.length ? median(blasterRuns.map((r) => r.cpuUsPerPacket)) : null;
    const rows: SendFigures[] = [];
    if (blasterCpu !== null) {
      rows.push({
        sender: "netconsblaster",
        pps: Math.round(median(blasterRuns.map((r) => r.pps))),
        cpuUsPerPacket: round3(blasterCpu),
        processCpuUsPerPacket: round3(blasterCpu),
        perCoreVsNetconsblaster: 1,
        errors: 0,
      });
    }
    for (const [name, list] of ours) {
      const cpu = median(list.map((r) => r.cpu));
      rows.push({
        sender: name,
        pps: Math.round(median(list.map((r) => r.pps))),
        cpuUsPerPacket: round3(cpu),
        processCpuUsPerPacket: round3(median(list.map((r) => r.processCpu))),
        perCoreVsNetconsblaster: blasterCpu !== null ? round3(blasterCpu / cpu) : null,
        errors: list.reduce((a, r) => a + r.errors, 0),
      });
    }
    result.oneThread = rows;
    say("sender            pkt/s   CPU µs/pkt (thread)  (process)  per-core vs netconsblaster");
    for (const r of rows) {
      say(
        `${r.sender.padEnd(16)} ${String(r.pps).padStart(8)}   ${r.cpuUsPerPacket.toFixed(3).padStart(8)}           ${r.processCpuUsPerPacket.toFixed(3).padStart(7)}    ${r.perCoreVsNetconsblaster === null ? "-" : `${r.perCoreVsNetconsblaster.toFixed(2)}x`}`,
      );
    }
    // The best of ours: the fewest CPU µs per packet.
    const best = rows
      .filter((r) => r.sender !== "netconsblaster")
      .sort((a, b) => a.cpuUsPerPacket - b.cpuUsPerPacket)[0];
    result.best = best?.sender ?? null;

    // 2. Paced: the best transport at each rate against its unpaced CPU per packet.
    if (best && !skip.has("pacing")) {
      const sender = SENDERS[best.sender];
      const sleepUs = sleepCostUs();
      say(
        `paced, ${sender.name}, quantum ${values["pacing-quantum"]} (one 200 µs sleep and wake-up costs ${sleepUs.toFixed(1)} CPU µs on this machine):`,
      );
      const paced = [];
      for (const rate of rates) {
        // The main thread sends: how long its event loop (progress, signals) waited at worst.
        const loopDelay = monitorEventLoopDelay({ resolution: 1 });
        loopDelay.enable();
        const r = await runOurs(sender, port, {
          hosts,
          seconds,
          workers: 1,
          rate,
          quantum: values["pacing-quantum"],
        });
        loopDelay.disable();
        const achieved = r.report.rate.achievedPps;
        const row = {
          ratePps: rate,
          achievedPps: Math.round(achieved),
          rateErrorPercent: round3((achieved / rate - 1) * 100),
          cpuUsPerPacket: round3(r.cpuUsPerPacket),
          vsUnpaced: round3(r.cpuUsPerPacket / best.cpuUsPerPacket),
          latenessP99Us: r.report.latenessUs?.p99 ?? null,
          latenessP50Us: r.report.latenessUs?.p50 ?? null,
          eventLoopDelayP99Ms: round3(loopDelay.percentile(99) / 1e6),
          eventLoopDelayMaxMs: round3(loopDelay.max / 1e6),
        };
        paced.push(row);
        say(
          `  ${String(rate).padStart(7)}/s: achieved ${row.achievedPps}/s (${row.rateErrorPercent}%), CPU ${row.cpuUsPerPacket} µs/pkt = ${row.vsUnpaced}x unpaced (target <= 1.25x), lateness p50 ${row.latenessP50Us} µs, p99 ${row.latenessP99Us} µs (target < 1000), event loop delay p99 ${row.eventLoopDelayP99Ms} ms`,
        );
      }
      result.paced = { sender: sender.name, sleepCostUs: round3(sleepUs), rates: paced };
    }

    // 3. Two workers against one, the best transport.
    if (best && !skip.has("workers")) {
      const sender = SENDERS[best.sender];
      const one = await runOurs(sender, port, {
        hosts,
        seconds,
        workers: 1,
        rate: 0,
        quantum: values["pacing-quantum"],
      });
      const two = await runOurs(sender, port, {
        hosts,
        seconds,
        workers: 2,
        rate: 0,
        quantum: values["pacing-quantum"],
      });
      const workers = {
        sender: sender.name,
        oneWorkerPps: Math.round(one.pps),
        twoWorkersPps: Math.round(two.pps),
        ratio: round3(two.pps / one.pps),
        oneCpuUsPerPacket: round3(one.cpuUsPerPacket),
        twoCpuUsPerPacket: round3(two.cpuUsPerPacket),
        // With two free cores each worker sends at 1 / (its CPU per packet).
        projectedRatioOnTwoFreeCores: round3((2 * one.cpuUsPerPacket) / two.cpuUsPerPacket),
      };
      result.workers = workers;
      say(
        `2 workers vs 1 (${sender.name}): ${workers.twoWorkersPps} vs ${workers.oneWorkerPps} pkt/s = ${workers.ratio}x (target >= 1.9x); CPU per packet ${workers.twoCpuUsPerPacket} vs ${workers.oneCpuUsPerPacket} µs, so ${workers.projectedRatioOnTwoFreeCores}x on two free cores`,
      );
    }
  } finally {
    addon.close(sink);
  }
  const load = machine();
  result.machine = load;
  say(
    `machine: ${load.cpus} CPUs, busy ${load.busyPercent?.toFixed(0) ?? "?"}%, load average ${load.loadAverage1m.toFixed(2)}`,
  );
  if (values.json) writeJson(values.json, result);
}

if (import.meta.main) await main();
