/**
 * The fuzz benchmark: hostile datagrams over real loopback sockets into a real receiver (a
 * `netcons-bench receive` child, so its RSS is its own), reporting datagrams/s, peak RSS and
 * whether the ledger balanced. Sources are distinct 127.x.y.z addresses sent with the blaster's
 * udp-batch transport (sendmmsg, per-datagram source through IP_PKTINFO; native addon, no
 * capability).
 *
 * Modes:
 * - hostile: --datagrams hostile datagrams (scenarios/bench/hostile-datagrams.ts) from --sources;
 * - fragments: --datagrams distinct sources each sending one first fragment of a declared
 *   8192-byte message and nothing else, against --max-hosts (default 10000): memory must stay
 *   bounded by the host table, not grow with the sources;
 * - hosts: --datagrams distinct sources each sending one valid message, default receiver
 *   settings: RSS and bytes per tracked host.
 *
 *   npm run bench:fuzz -- [--mode hostile|fragments|hosts] [--datagrams N] [--sources N]
 *     [--rate PER_S] [--max-hosts N] [--seed N] [--semi-space-mb N] [--listener auto|native|dgram]
 *     [--json FILE|-]
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { transport as udpBatch } from "../../blaster/udp-batch-transport.ts";
import { parseProcNetUdp } from "../../receiver/kernel-drops.ts";
import { parseProcStatus, readProcText } from "../../receiver/procfs.ts";
import { bytes, count, durationUs, rate } from "../format.ts";
import { EXIT, UsageError } from "../options.ts";
import { checkWritable, humanOut, writeJson } from "../output-files.ts";
import { HOSTILE_MAX_BYTES, hostileDatagram, hostileSource } from "./hostile-datagrams.ts";
import { cpuUs, startReceiveChild } from "./receiver-child.ts";

export type FuzzMode = "hostile" | "fragments" | "hosts";

export interface FuzzBenchOptions {
  mode?: FuzzMode;
  /** Datagrams to send (fragments/hosts: also the number of distinct sources). */
  datagrams: number;
  /** Distinct sources (hostile mode). */
  sources?: number;
  seed?: number;
  /** Datagrams per second offered (0 = as fast as the sender goes). */
  ratePps?: number;
  /** The receiver's --max-hosts (fragments mode default 10000; otherwise the receiver's default). */
  maxHosts?: number;
  workers?: number;
  /**
   * V8's --max-semi-space-size for the receiver child (MiB; undefined = Node's default). Small
   * semi-spaces make V8 collect the receiver's short-lived fragment state sooner.
   */
  semiSpaceMb?: number;
  /** The receiver's --listener (auto when absent). */
  listener?: "auto" | "native" | "dgram";
}

export interface FuzzLedger {
  sent: number;
  read: number;
  kernelDrops: number;
  queueDrops: number;
  received: number;
  malformed: number;
  legacy: number;
  fragments: number;
  reassembled: number;
  extended: number;
  /** Messages dropped as seq duplicates. */
  duplicates: number;
  /** sent = read + kernel drops; read = received + queue drops; every extended message counted. */
  balanced: boolean;
  /** What did not add up (empty when balanced). */
  problems: string[];
}

export interface FuzzReport {
  mode: FuzzMode;
  /** The receiver child's V8 semi-space cap, MiB (null: Node's default). */
  semiSpaceMb: number | null;
  datagramsSent: number;
  sendErrors: number;
  sources: number;
  sendSeconds: number;
  /** Datagrams the receiver read per second over its active time. */
  datagramsPerSecond: number;
  /** The receiver's CPU time per datagram read, µs. */
  cpuUsPerDatagram: number;
  baselineRssBytes: number;
  finalRssBytes: number;
  peakRssBytes: number;
  hostsSeen: number;
  hostsTracked: number;
  /** (final RSS - baseline) / hosts tracked; null when none is tracked. */
  bytesPerTrackedHost: number | null;
  ledger: FuzzLedger;
}

/** Datagrams sent between two flushes: the transport may read a payload until the flush. */
const FLUSH_EVERY = 256;
/** One slot per datagram of a flush, so none is overwritten before the transport has sent it. */
const SLOT_BYTES = HOSTILE_MAX_BYTES + 64;
const SLAB = Buffer.alloc(FLUSH_EVERY * SLOT_BYTES);

/** Writes datagram i of a mode into `out`; returns [length, source]. */
function datagramOf(
  out: Buffer,
  mode: FuzzMode,
  seed: number,
  i: number,
  sources: number,
): [number, number] {
  if (mode === "hostile") return [hostileDatagram(seed, i, out), hostileSource(seed, i, sources)];
  if (mode === "fragments") {
    return [out.write(`6,1,1,-,ncfrag=0/8192;first fragment ${i}`, 0, "latin1"), i];
  }
  return [out.write(`6,1,1,-;host ${i} says hello\n`, 0, "latin1"), i];
}

function peakRss(pid: number): { rss: number; peak: number } {
  const m = parseProcStatus(readProcText(`/proc/${pid}/status`));
  return { rss: m.rssBytes, peak: m.peakRssBytes };
}

/** Bytes waiting in the receive queues of the UDP sockets on `port` (IPv4 and IPv6). */
function queuedBytes(port: number): number {
  let bytes = 0;
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    for (const socket of parseProcNetUdp(readProcText(table), port)) bytes += socket.rxQueueBytes;
  }
  return bytes;
}

/**
 * Waits until the receiver's socket queue is empty and its CPU time stops growing: it has read
 * and handled what was sent (a starved receiver on a loaded machine is quiet but not done).
 */
async function drained(pid: number, port: number, limitMs = 120_000): Promise<void> {
  const end = Date.now() + limitMs;
  let last = cpuUs(pid);
  while (Date.now() < end) {
    await sleep(300);
    const now = cpuUs(pid);
    // < 7% of one core over the last 300 ms, and nothing left in the socket.
    if (now - last < 20_000 && queuedBytes(port) === 0) return;
    last = now;
  }
}

type Report = {
  packets: { read: number; received: number; malformed: number; ratePps: number };
  messages: {
    extended: number;
    legacy: number;
    fragments: number;
    reassembled: number;
    duplicateFragments: number;
  };
  sequence: { duplicates: number };
  drops: { kernel: number; queue: number; kernelCountersAvailable: boolean };
  hosts: number;
  hostsTracked: number;
};

function ledgerOf(sent: number, r: Report): FuzzLedger {
  const l = {
    sent,
    read: r.packets.read,
    kernelDrops: r.drops.kernel,
    queueDrops: r.drops.queue,
    received: r.packets.received,
    malformed: r.packets.malformed,
    legacy: r.messages.legacy,
    fragments: r.messages.fragments,
    reassembled: r.messages.reassembled,
    extended: r.messages.extended,
    // The report's duplicates are messages and fragments; the messages dropped as duplicates
    // are the rest.
    duplicates: r.sequence.duplicates - r.messages.duplicateFragments,
  };
  const problems: string[] = [];
  if (!r.drops.kernelCountersAvailable)
    problems.push("the kernel's drop counters were not readable");
  if (l.sent !== l.read + l.kernelDrops) problems.push("sent != read + kernel drops");
  if (l.read !== l.received + l.queueDrops) problems.push("read != received + queue drops");
  const whole = l.received - l.malformed - l.legacy - l.fragments;
  if (whole < 0) problems.push("malformed + legacy + fragments > received");
  if (l.extended + l.duplicates !== whole + l.reassembled)
    problems.push("extended + duplicates != unfragmented records + reassembled");
  return { ...l, balanced: problems.length === 0, problems };
}

export async function runFuzzBench(options: FuzzBenchOptions): Promise<FuzzReport> {
  const mode = options.mode ?? "hostile";
  const n = options.datagrams;
  const sources = mode === "hostile" ? (options.sources ?? 10_000) : n;
  const seed = options.seed ?? 1;
  const ratePps = options.ratePps ?? 100_000;
  const maxHosts = options.maxHosts ?? (mode === "fragments" ? 10_000 : undefined);
  const extra = [
    ...["--rcvbuf", "64m", "--listener", options.listener ?? "auto"],
    ...(maxHosts ? ["--max-hosts", String(maxHosts)] : []),
  ];
  const nodeOptions = process.env.NODE_OPTIONS;
  if (options.semiSpaceMb !== undefined) {
    process.env.NODE_OPTIONS = `${nodeOptions ?? ""} --max-semi-space-size=${options.semiSpaceMb}`;
  }
  const child = await startReceiveChild("127.0.0.1", 1, options.workers ?? 2, extra).finally(() => {
    if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = nodeOptions;
  });
  try {
    const baseline = peakRss(child.pid);
    const cpuBefore = cpuUs(child.pid);
    const sender = await udpBatch.create({
      target: { address: "127.0.0.1", port: child.port, family: 4 },
      sources: { kind: "ipv4-loopback", prefix: "127.0.0.0/8" },
      hosts: sources,
      shardHosts: sources,
      activeHosts: sources,
      gso: "off",
    });
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      const at = (i % FLUSH_EVERY) * SLOT_BYTES;
      const [length, source] = datagramOf(
        SLAB.subarray(at, at + SLOT_BYTES),
        mode,
        seed,
        i,
        sources,
      );
      sender.send(source, SLAB, at, length);
      if (i % FLUSH_EVERY === FLUSH_EVERY - 1) {
        await sender.flush();
        if (ratePps > 0) {
          const aheadMs = ((i + 1) * 1000) / ratePps - (performance.now() - started);
          if (aheadMs >= 1) await sleep(aheadMs);
        }
      }
    }
    await sender.flush();
    const sendSeconds = (performance.now() - started) / 1000;
    await sender.close();
    await drained(child.pid, child.port);
    const after = peakRss(child.pid);
    const cpu = cpuUs(child.pid) - cpuBefore;
    const report = (await child.stop()) as unknown as Report;
    const sent = sender.counters.sent;
    const ledger = ledgerOf(sent, report);
    return {
      mode,
      semiSpaceMb: options.semiSpaceMb ?? null,
      datagramsSent: sent,
      sendErrors: sender.counters.errors,
      sources,
      sendSeconds,
      datagramsPerSecond: report.packets.ratePps,
      cpuUsPerDatagram: ledger.read > 0 ? cpu / ledger.read : 0,
      baselineRssBytes: baseline.rss,
      finalRssBytes: after.rss,
      peakRssBytes: after.peak,
      hostsSeen: report.hosts,
      hostsTracked: report.hostsTracked,
      bytesPerTrackedHost:
        report.hostsTracked > 0 ? (after.rss - baseline.rss) / report.hostsTracked : null,
      ledger,
    };
  } catch (error) {
    await child.stop().catch(() => undefined);
    throw error;
  }
}

/** The human summary (every figure here is in the JSON too). */
export function formatFuzzReport(r: FuzzReport): string {
  const l = r.ledger;
  return [
    `fuzz ${r.mode}${r.semiSpaceMb === null ? "" : ` (receiver --max-semi-space-size=${r.semiSpaceMb})`}: ${count(r.datagramsSent)} datagrams from ${count(r.sources)} sources in ${durationUs(r.sendSeconds * 1e6)} (${count(r.sendErrors)} send errors)`,
    `  receiver: ${rate(r.datagramsPerSecond)} read, ${durationUs(r.cpuUsPerDatagram)} CPU per datagram`,
    `  memory: peak RSS ${bytes(r.peakRssBytes)} (baseline ${bytes(r.baselineRssBytes)}, final ${bytes(r.finalRssBytes)}); hosts seen ${count(r.hostsSeen)}, tracked ${count(r.hostsTracked)}${r.bytesPerTrackedHost === null ? "" : `, ${bytes(r.bytesPerTrackedHost)} per tracked host`}`,
    `  ledger: sent ${count(l.sent)} = read ${count(l.read)} + kernel drops ${count(l.kernelDrops)}; read = received ${count(l.received)} + queue drops ${count(l.queueDrops)}; malformed ${count(l.malformed)}, legacy ${count(l.legacy)}, fragments ${count(l.fragments)}, reassembled ${count(l.reassembled)}, extended ${count(l.extended)}, duplicates ${count(l.duplicates)}: ${l.balanced ? "balanced" : `NOT balanced (${l.problems.join("; ")})`}`,
  ].join("\n");
}

function positive(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0)
    throw new UsageError(`${flag}: expected a number >= 0, got ${text}`);
  return Math.floor(value);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      mode: { type: "string", default: "hostile" },
      datagrams: { type: "string" },
      sources: { type: "string", default: "10000" },
      rate: { type: "string", default: "100000" },
      "max-hosts": { type: "string" },
      seed: { type: "string", default: "1" },
      "semi-space-mb": { type: "string" },
      listener: { type: "string", default: "auto" },
      json: { type: "string" },
    },
  });
  const mode = values.mode as FuzzMode;
  if (!["hostile", "fragments", "hosts"].includes(mode))
    throw new UsageError(`--mode: expected hostile, fragments or hosts, got ${values.mode}`);
  checkWritable([["--json", values.json]]);
  const report = await runFuzzBench({
    mode,
    datagrams: positive("--datagrams", values.datagrams ?? (mode === "hostile" ? "1e7" : "1e6")),
    sources: positive("--sources", values.sources),
    ratePps: positive("--rate", values.rate),
    maxHosts: values["max-hosts"] ? positive("--max-hosts", values["max-hosts"]) : undefined,
    seed: positive("--seed", values.seed),
    listener: values.listener as FuzzBenchOptions["listener"],
    semiSpaceMb: values["semi-space-mb"]
      ? positive("--semi-space-mb", values["semi-space-mb"])
      : undefined,
  });
  humanOut(values.json).write(`${formatFuzzReport(report)}\n`);
  if (values.json) writeJson(values.json, report);
  return report.ledger.balanced ? EXIT.ok : EXIT.failure;
}

if (import.meta.main) {
  try {
    process.exitCode = await main();
  } catch (error) {
    process.stderr.write(`netcons-bench: bench:fuzz: ${(error as Error).message}\n`);
    process.exitCode = error instanceof UsageError ? EXIT.usage : EXIT.failure;
  }
}
