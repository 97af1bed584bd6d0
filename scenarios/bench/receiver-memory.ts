/**
 * Memory per tracked host of the receiver (netconsd keeps about 21 KB per host).
 *
 * --mode core (default): feeds --hosts distinct source addresses through the worker's own
 *   per-datagram path (WorkerCore: decode, reassembly, sequence tracking, histograms; sink none)
 *   in this process, --messages each, and reports RSS and heap growth per host after a GC.
 * --mode live: starts `netcons-bench receive` as a child process, sends --messages extended
 *   messages from each of --hosts source addresses with runBlast, and reports the child's RSS
 *   growth (VmRSS before and after the traffic) per host it tracked. --transport raw (default)
 *   spoofs sources in fd00:6e62::/64 towards ::1 (needs CAP_NET_RAW; one socket for all hosts);
 *   --transport socket binds one socket per host in 127.0.0.0/8 (needs ulimit -n > hosts).
 *
 *   npm run bench:receiver-memory -- [--mode core|live] [--hosts 100000] [--messages 3]
 *     [--rate 40000] [--transport raw|socket]
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { encodeExtended } from "../../blaster/codec.ts";
import { WorkerCore } from "../../receiver/core.ts";
import { SequenceTracker } from "../../receiver/sequence.ts";
import { createSink } from "../../receiver/sinks.ts";
import { rssBytes, startReceiveChild } from "./receiver-child.ts";

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "core" },
    hosts: { type: "string", default: "100000" },
    messages: { type: "string", default: "3" },
    rate: { type: "string", default: "40000" },
    transport: { type: "string", default: "raw" },
  },
});
const hosts = Number(values.hosts);
const messages = Number(values.messages);

const kib = (bytes: number) => Math.round(bytes / 102.4) / 10;

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

/** The address text a dual-stack receiver sees for host i (IPv4-mapped 10.x.y.z). */
function address(i: number): string {
  return `::ffff:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

async function coreMode(): Promise<void> {
  if (!(globalThis as { gc?: unknown }).gc)
    console.log("(run with --expose-gc for steadier figures)");
  const core = new WorkerCore({}, createSink({ kind: "none" }, -1));
  // Warm up the code paths and the histograms before the baseline.
  for (let s = 0; s < 1000; s++) {
    const [p] = encodeExtended({ facility: 0, level: 6, seq: s, tsUs: s, text: "warm up" });
    core.handleText("warmup", p, 0, 1);
  }
  const payloads = Array.from(
    { length: messages },
    (_, s) =>
      encodeExtended({
        facility: 0,
        level: 6,
        seq: 1000 + s,
        tsUs: s,
        text: "memory benchmark line",
      })[0],
  );
  const addresses = Array.from({ length: hosts }, (_, i) => address(i));
  gc();
  const before = process.memoryUsage();
  for (let s = 0; s < messages; s++) {
    for (let i = 0; i < hosts; i++) core.handleText(addresses[i], payloads[s], 0, 1 + s);
  }
  gc();
  const after = process.memoryUsage();
  const tracked = core.sequence.size;
  console.log(
    `core path: ${tracked} hosts tracked, ${messages} messages each\n` +
      `  RSS growth  ${kib(after.rss - before.rss)} KiB = ${Math.round((after.rss - before.rss) / tracked)} B/host\n` +
      `  heap growth ${kib(after.heapUsed - before.heapUsed)} KiB = ${Math.round((after.heapUsed - before.heapUsed) / tracked)} B/host\n` +
      `  sequence state in typed arrays: ${SequenceTracker.bytesPerHost()} B/host (x up to 2 for array growth)\n` +
      `  (address strings held by the benchmark itself are in the baseline)`,
  );
}

async function liveRun(
  hosts: number,
  total: number,
): Promise<{ growth: number; tracked: number; drops: number; sent: number }> {
  const { runBlast } = await import("../../blaster/blast.ts");
  const raw = values.transport === "raw";
  const child = await startReceiveChild(raw ? "::" : "127.0.0.1", 1, 2);
  const port = child.port;
  const before = rssBytes(child.pid);
  const blast = await runBlast({
    target: raw ? `[::1]:${port}` : `127.0.0.1:${port}`,
    ...(raw ? { transport: "raw", sources: "fd00:6e62::/64" } : {}),
    hosts,
    count: total,
    rate: Number(values.rate),
    format: "extended",
    size: 64,
    seed: 3,
  });
  await sleep(1500);
  const after = rssBytes(child.pid);
  const report = (await child.stop()) as unknown as {
    hostsTracked: number;
    drops: { kernel: number; queue: number };
  };
  return {
    growth: after - before,
    tracked: report.hostsTracked,
    drops: report.drops.kernel + report.drops.queue,
    sent: blast.packets.sent,
  };
}

/**
 * RSS also grows with traffic alone (garbage not yet collected, allocator slack), so the same
 * number of messages is sent from 100 hosts first, and the difference is charged to the hosts.
 */
async function liveMode(): Promise<void> {
  const total = hosts * messages;
  const few = await liveRun(100, total);
  const many = await liveRun(hosts, total);
  const perHost = (many.growth - few.growth) / (many.tracked - few.tracked);
  console.log(
    `live receiver (-l1 -w2, ${values.transport} transport), ${total} messages each run\n` +
      `  100 hosts:    RSS growth ${kib(few.growth)} KiB (tracked ${few.tracked}, drops ${few.drops})\n` +
      `  ${hosts} hosts: RSS growth ${kib(many.growth)} KiB (tracked ${many.tracked}, drops ${many.drops})\n` +
      `  per host: ${Math.round(many.growth / many.tracked)} B/host all in, ${Math.round(perHost)} B/host beyond the same traffic from 100 hosts`,
  );
}

if (values.mode === "live") await liveMode();
else await coreMode();
