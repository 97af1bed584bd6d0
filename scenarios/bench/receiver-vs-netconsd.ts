/**
 * Our receiver against netconsd, side by side in one run: the same paced sender (our blaster,
 * 64-byte extended messages from 1,024 hosts, default socket buffer, a few seconds per point)
 * into each receiver in turn, run as a child process so its CPU time comes from /proc/PID/stat:
 * - loss at each offered rate, for each listeners x workers configuration;
 * - CPU per message at one rate;
 * - our end-to-end latency (the blaster's send stamp to the message complete in a worker) at a
 *   light and a moderate rate (netconsd measures none).
 *
 *   npm run bench:receiver -- [--netconsd PATH] [--module PATH] [--seconds 4] [--hosts 1024]
 *     [--rates 50000,100000,150000] [--configs 1x2,2x2] [--cpu-rate 100000]
 *     [--latency-rates 10000,50000] [--skip loss,cpu,latency] [--profile DIR]
 *     [--compare-cli PATH] [--json FILE|-]
 *
 * netconsd comes from --netconsd or NETCONSD (loopback only); without it the run measures ours
 * alone and says so. --module gives netconsd an output module (its messages go to /dev/null: the
 * exit totals are read from its stdout, so only with no module). --compare-cli runs a second
 * build of our CLI (e.g. an older checkout) beside the current one. --profile DIR runs our
 * receiver with --cpu-prof into DIR and prints where its CPU time went.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { runBlast } from "../../blaster/blast.ts";
import { receivingSockets } from "../../receiver/kernel-drops.ts";
import { freeUdpPort } from "../external-process.ts";
import { durationUs, percent, rate } from "../format.ts";
import { parseNetconsdStats } from "../netconsd-output.ts";
import { humanOut, writeJson } from "../output-files.ts";
import { cpuUs, startReceiveChild } from "./receiver-child.ts";

const { values } = parseArgs({
  options: {
    netconsd: { type: "string", default: process.env.NETCONSD },
    module: { type: "string" },
    seconds: { type: "string", default: "4" },
    hosts: { type: "string", default: "1024" },
    rates: { type: "string", default: "50000,100000,150000" },
    configs: { type: "string", default: "1x2,2x2" },
    "cpu-rate": { type: "string", default: "100000" },
    "latency-rates": { type: "string", default: "10000,50000" },
    skip: { type: "string", default: "" },
    profile: { type: "string" },
    "compare-cli": { type: "string" },
    json: { type: "string" },
  },
});
const out = humanOut(values.json);
const say = (line: string) => out.write(`${line}\n`);
const seconds = Number(values.seconds);
const hosts = Number(values.hosts);
const skip = new Set(values.skip.split(",").filter(Boolean));
const list = (text: string) => text.split(",").filter(Boolean).map(Number);
const configs = values.configs.split(",").map((c) => {
  const [listeners, workers] = c.split("x").map(Number);
  return { listeners, workers, name: `-l ${listeners} -w ${workers}` };
});
/** After the sender ends: time for the receiver to read what is queued before it is stopped. */
const DRAIN_MS = 1000;
/** Longest wait for netconsd's sockets to appear. */
const START_TIMEOUT_MS = 10_000;

const netconsd = values.netconsd && existsSync(values.netconsd) ? values.netconsd : null;
if (!netconsd) {
  say(
    values.netconsd
      ? `netconsd not found at ${values.netconsd}: measuring our receiver only`
      : "no netconsd given (--netconsd PATH or NETCONSD=PATH): measuring our receiver only",
  );
}

/** Our receiver's latency figures: end to end (send stamp to message complete, so it includes
 * the sender's own lateness) and the hand-off (listener read to worker start). */
interface Latency {
  p50Us: number;
  p99Us: number;
  handOffP50Us: number;
  handOffP99Us: number;
}

/** One receiver under test, started afresh for each point. */
interface Receiver {
  name: string;
  start(listeners: number, workers: number): Promise<Running>;
}
interface Running {
  pid: number;
  port: number;
  /** Stops it; datagrams its workers processed, and our end-to-end latency when it has one. */
  stop(): Promise<{ processed: number; latency?: Latency }>;
}

function netconsdReceiver(path: string): Receiver {
  return {
    name: "netconsd",
    async start(listeners, workers) {
      const port = await freeUdpPort();
      const args = ["-l", String(listeners), "-w", String(workers), "-u", String(port)];
      if (values.module) args.push(values.module);
      const child: ChildProcess = spawn(path, args, { stdio: ["ignore", "pipe", "pipe"] });
      let text = "";
      child.stdout?.on("data", (d) => {
        text += d;
      });
      child.stderr?.on("data", (d) => {
        text += d;
      });
      const end = Date.now() + START_TIMEOUT_MS;
      while (receivingSockets(port, "::") < listeners && Date.now() < end) await sleep(20);
      if (receivingSockets(port, "::") < listeners) {
        child.kill("SIGKILL");
        throw new Error(`netconsd did not bind port ${port}: ${text}`);
      }
      await sleep(300);
      return {
        pid: child.pid ?? 0,
        port,
        async stop() {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGINT");
          await exited;
          const stats = parseNetconsdStats(text);
          if (stats?.workerMessages === undefined) {
            throw new Error(`netconsd printed no exit totals: ${text.slice(-500)}`);
          }
          return { processed: stats.workerMessages };
        },
      };
    },
  };
}

function ourReceiver(name: string, cli?: string, profileDir?: string): Receiver {
  return {
    name,
    async start(listeners, workers) {
      const nodeFlags = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
      // The default socket buffer (as netconsd), bound dual-stack (as netconsd).
      const child = await startReceiveChild("::", listeners, workers, ["--rcvbuf", "0"], {
        cli,
        nodeFlags,
      });
      return {
        pid: child.pid,
        port: child.port,
        async stop() {
          const report = (await child.stop()) as {
            packets: { received: number };
            latencyUs: Record<"endToEnd" | "queue", { p50: number; p99: number }>;
          };
          const { endToEnd, queue } = report.latencyUs;
          return {
            processed: report.packets.received,
            latency: {
              p50Us: endToEnd.p50,
              p99Us: endToEnd.p99,
              handOffP50Us: queue.p50,
              handOffP99Us: queue.p99,
            },
          };
        },
      };
    },
  };
}

interface Point {
  receiver: string;
  config: string;
  offeredPps: number;
  /** The rate the blaster reached (below offered on a busy machine: the point then says less). */
  achievedPps: number;
  sent: number;
  processed: number;
  lossRatio: number;
  cpuUsPerMessage: number;
  latencyP50Us?: number;
  latencyP99Us?: number;
  handOffP50Us?: number;
  handOffP99Us?: number;
}

async function measure(
  receiver: Receiver,
  config: (typeof configs)[number],
  offeredPps: number,
): Promise<Point> {
  const running = await receiver.start(config.listeners, config.workers);
  const cpuBefore = cpuUs(running.pid);
  const blast = await runBlast({
    target: `127.0.0.1:${running.port}`,
    hosts,
    rate: offeredPps,
    duration: `${seconds}s`,
    format: "extended",
    size: 64,
    seed: 12,
  });
  await sleep(DRAIN_MS);
  const cpuAfter = cpuUs(running.pid);
  const result = await running.stop();
  const sent = blast.packets.sent;
  return {
    receiver: receiver.name,
    config: config.name,
    offeredPps,
    achievedPps: Math.round(blast.rate.achievedPps),
    sent,
    processed: result.processed,
    lossRatio: sent > 0 ? Math.max(0, sent - result.processed) / sent : 0,
    cpuUsPerMessage: result.processed > 0 ? (cpuAfter - cpuBefore) / result.processed : 0,
    latencyP50Us: result.latency?.p50Us,
    latencyP99Us: result.latency?.p99Us,
    handOffP50Us: result.latency?.handOffP50Us,
    handOffP99Us: result.latency?.handOffP99Us,
  };
}

const receivers: Receiver[] = [];
if (netconsd) receivers.push(netconsdReceiver(netconsd));
if (values["compare-cli"]) receivers.push(ourReceiver("ours (compared)", values["compare-cli"]));
if (values.profile) mkdirSync(values.profile, { recursive: true });
receivers.push(ourReceiver("ours", undefined, values.profile));

const points: Point[] = [];
const row = (p: Point) =>
  `  ${p.receiver.padEnd(16)} ${p.config.padEnd(10)} offered ${rate(p.offeredPps).padStart(10)}  ` +
  `sent ${rate(p.achievedPps).padStart(10)}  lost ${percent(p.lossRatio).padStart(7)}  ` +
  `CPU ${durationUs(p.cpuUsPerMessage).padStart(9)}/msg` +
  (p.latencyP99Us !== undefined
    ? `  e2e p50 ${durationUs(p.latencyP50Us)} p99 ${durationUs(p.latencyP99Us)}` +
      `  hand-off p50 ${durationUs(p.handOffP50Us)} p99 ${durationUs(p.handOffP99Us)}`
    : "");

if (!skip.has("loss")) {
  say(`loss (${seconds} s per point, ${hosts} hosts, 64-byte extended, default socket buffer)`);
  for (const offered of list(values.rates)) {
    for (const config of configs) {
      for (const receiver of receivers) {
        const p = await measure(receiver, config, offered);
        points.push(p);
        say(row(p));
      }
    }
  }
}
const cpuRate = Number(values["cpu-rate"]);
if (!skip.has("cpu") && !points.some((p) => p.offeredPps === cpuRate)) {
  say(`CPU per message at ${rate(cpuRate)}`);
  for (const receiver of receivers) {
    const p = await measure(receiver, configs[0], cpuRate);
    points.push(p);
    say(row(p));
  }
}
if (!skip.has("latency")) {
  say("our end-to-end latency (send stamp to message complete)");
  for (const offered of list(values["latency-rates"])) {
    for (const receiver of receivers.filter((r) => r.name !== "netconsd")) {
      const p = await measure(receiver, { listeners: 1, workers: 2, name: "-l 1 -w 2" }, offered);
      points.push(p);
      say(row(p));
    }
  }
}

/** Per config and rate: ours against netconsd (loss difference, CPU ratio). */
const comparisons = points
  .filter((p) => p.receiver === "ours")
  .flatMap((ours) => {
    const theirs = points.find(
      (p) =>
        p.receiver === "netconsd" && p.config === ours.config && p.offeredPps === ours.offeredPps,
    );
    return theirs
      ? [
          {
            config: ours.config,
            offeredPps: ours.offeredPps,
            ourLossRatio: ours.lossRatio,
            netconsdLossRatio: theirs.lossRatio,
            lossNoWorse: ours.lossRatio <= theirs.lossRatio,
            cpuRatio:
              theirs.cpuUsPerMessage > 0 ? ours.cpuUsPerMessage / theirs.cpuUsPerMessage : 0,
          },
        ]
      : [];
  });
if (comparisons.length > 0) {
  say("ours against netconsd (CPU ratio: ours / netconsd, goal <= 0.7)");
  for (const c of comparisons) {
    say(
      `  ${c.config.padEnd(10)} ${rate(c.offeredPps).padStart(10)}  lost ${percent(c.ourLossRatio)} vs ` +
        `${percent(c.netconsdLossRatio)} (${c.lossNoWorse ? "no worse" : "WORSE"})  CPU ratio ${c.cpuRatio.toFixed(2)}`,
    );
  }
}

let profile: { function: string; selfPercent: number }[] | undefined;
if (values.profile) {
  profile = topSelfTime(values.profile);
  say(`where our receiver's CPU time went (self time, all threads, ${values.profile})`);
  for (const f of profile) say(`  ${f.selfPercent.toFixed(1).padStart(5)}%  ${f.function}`);
}

if (values.json) {
  writeJson(values.json, {
    tool: "netcons-bench bench:receiver",
    netconsd: netconsd ?? null,
    seconds,
    hosts,
    points,
    comparisons,
    profile: profile ?? null,
  });
}

/** The functions with the most self time over every .cpuprofile in `dir` (one per thread). */
function topSelfTime(dir: string, top = 15): { function: string; selfPercent: number }[] {
  const self = new Map<string, number>();
  let total = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))) {
    const p = JSON.parse(readFileSync(join(dir, file), "utf8")) as {
      nodes: {
        id: number;
        callFrame: { functionName: string; url: string; lineNumber: number };
      }[];
      samples: number[];
      timeDeltas: number[];
    };
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    p.samples.forEach((id, i) => {
      const frame = byId.get(id)?.callFrame;
      // Idle time (a thread waiting) is not CPU time.
      if (!frame || frame.functionName === "(idle)") return;
      const file = frame.url.split("/").slice(-2).join("/");
      const key = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
      const dt = p.timeDeltas[i] ?? 0;
      self.set(key, (self.get(key) ?? 0) + dt);
      total += dt;
    });
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([f, t]) => ({ function: f, selfPercent: total > 0 ? (100 * t) / total : 0 }));
}
