/**
 * One trial: start the target (our receiver in this process, or an external command), run the
 * blaster's load into it, let queues drain, take the final readings, stop the target, and turn
 * everything into one flat figures object (TrialFigures) that thresholds and reports read.
 */
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { type BlastOptions, type BlastReport, runBlast } from "../blaster/blast.ts";
import { type ReceiverOptions, type SenderTruthHost, startReceiver } from "../receiver/receive.ts";
import {
  type ExternalMeasurement,
  expandTemplate,
  freeUdpPort,
  startExternalTarget,
} from "./external.ts";
import type { Sample, TrialFigures } from "./results.ts";
import type { Scenario } from "./schema.ts";
import { lookup } from "./thresholds.ts";

export interface TrialSpec {
  index: number;
  label: string;
  point: Record<string, unknown>;
  side?: "A" | "B";
  scenario: Scenario;
  /** Overrides load.rate (searches). */
  ratePps?: number;
  /** Overrides load.duration. */
  durationMs?: number;
  /** Sampling interval of the time series. */
  sampleEveryMs: number;
  /** Where the target's output is kept. */
  logFile: string;
  /** Run start (Date.now()), the zero of the shared timeline. */
  runStartMs: number;
}

export interface TrialLive {
  trial: number;
  label: string;
  elapsedMs: number;
  durationMs: number;
  sentPps: number;
  sent: number;
  drops: number;
}

export interface TrialHooks {
  signal?: AbortSignal;
  onSample?: (sample: Sample) => void;
  onLive?: (live: TrialLive) => void;
}

function num(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function numbers(value: unknown): Record<string, number> | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === "number") out[k] = v;
  return out;
}

function sendHost(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}

/** The blaster's options for this trial: the scenario's load, the target and the trial's rate. */
export function blastOptionsFor(
  scenario: Scenario,
  address: string,
  port: number,
  ratePps: number | undefined,
  durationMs: number,
): BlastOptions {
  const { duration: _duration, rate, stormAt, ...rest } = scenario.load;
  const options: BlastOptions = { ...rest, target: `${sendHost(address)}:${port}`, durationMs };
  const r = ratePps ?? rate;
  if (r !== undefined) options.ratePps = r;
  if (stormAt !== undefined) options.stormAtMs = stormAt;
  return options;
}

/** The per-host lines of the blaster's truth file, as the receiver takes them. */
export async function readTruthHosts(file: string): Promise<SenderTruthHost[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return [];
  }
  const out: SenderTruthHost[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const h = JSON.parse(line) as {
      kind?: string;
      source?: string | null;
      format?: string;
      firstSeq?: number;
      lastSeq?: number;
    };
    if (
      h.kind === "host" &&
      h.format === "extended" &&
      typeof h.source === "string" &&
      typeof h.firstSeq === "number" &&
      typeof h.lastSeq === "number"
    ) {
      out.push({ source: h.source, firstSeq: h.firstSeq, lastSeq: h.lastSeq });
    }
  }
  return out;
}

export async function runTrial(
  spec: TrialSpec,
  hooks: TrialHooks = {},
): Promise<{ figures: TrialFigures; samples: Sample[] }> {
  const { scenario } = spec;
  const target = scenario.target;
  const durationMs = spec.durationMs ?? scenario.load.duration;
  const startedAt = new Date().toISOString();
  const samples: Sample[] = [];
  const t0 = Date.now();
  const rssStart = process.memoryUsage.rss();
  const cpuStart = process.cpuUsage();
  const truthFile = spec.logFile.replace(/\.log$/, ".truth.jsonl");

  // Start the target.
  let port = target.port;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  let external: Awaited<ReturnType<typeof startExternalTarget>> | undefined;
  if (target.kind === "receiver") {
    // Bound on the dual-stack wildcard like netconsd unless the scenario says otherwise; the
    // load goes to target.address.
    receiver = await startReceiver({
      bind: "::",
      ...target.options,
      listeners: target.listeners,
      workers: target.workers,
      port,
    } as ReceiverOptions);
    port = receiver.port;
  } else {
    if (port === 0) port = await freeUdpPort();
    const command = expandTemplate(target.command, {
      ...target.vars,
      listeners: target.listeners,
      workers: target.workers,
      port,
      address: target.address,
      node: process.execPath,
      // This toolkit's own CLI, e.g. to run our receiver as a separate process.
      cli: fileURLToPath(new URL("./cli.ts", import.meta.url)),
      out: spec.logFile.replace(/\.log$/, ""),
    });
    external = await startExternalTarget({
      command,
      port,
      cwd: target.cwd,
      readyTimeoutMs: target.readyTimeout,
      stopTimeoutMs: target.stopTimeout,
      logFile: spec.logFile,
    });
    if (target.warmup > 0) await sleep(target.warmup);
    external.markLoadStart();
  }

  // Sample the time series while the load runs.
  let lastProgress = { elapsedMs: 0, sent: 0, errors: 0, ratePps: 0, messages: 0 };
  let lastReceived: { at: number; packets: number } | null = null;
  let lastDrops = 0;
  const takeSample = () => {
    const now = Date.now();
    let rssBytes = process.memoryUsage.rss();
    let receivedPps: number | null = null;
    let drops = 0;
    if (receiver) {
      const snap = receiver.snapshot();
      const packets = snap.packets.received;
      drops = snap.drops.kernel + snap.drops.queue;
      if (lastReceived && now > lastReceived.at) {
        receivedPps = ((packets - lastReceived.packets) * 1000) / (now - lastReceived.at);
      }
      lastReceived = { at: now, packets };
    } else if (external) {
      const s = external.sample();
      if (s) {
        rssBytes = s.rssBytes;
        drops = s.socketDrops;
      }
    }
    lastDrops = drops;
    const sample: Sample = {
      tMs: now - spec.runStartMs,
      trial: spec.index,
      sentPps: lastProgress.ratePps,
      receivedPps,
      drops,
      rssBytes,
    };
    samples.push(sample);
    hooks.onSample?.(sample);
  };
  takeSample();
  const timer = setInterval(takeSample, spec.sampleEveryMs);

  let blastReport: BlastReport | undefined;
  let error: string | undefined;
  let failure: unknown;
  let receiverReport: unknown;
  let measurement: ExternalMeasurement | undefined;
  try {
    const options = blastOptionsFor(scenario, target.address, port, spec.ratePps, durationMs);
    // Our receiver gets the sender's truth at the end, so losses at the stream edges count too.
    if (receiver) options.truthFile = truthFile;
    blastReport = await runBlast(options, {
      signal: hooks.signal,
      onProgress: (p) => {
        lastProgress = p;
        hooks.onLive?.({
          trial: spec.index,
          label: spec.label,
          elapsedMs: p.elapsedMs,
          durationMs,
          sentPps: p.ratePps,
          sent: p.sent,
          drops: lastDrops,
        });
      },
    });
    // Let the target drain its queues before the final reading (bounded by the scenario);
    // nothing is sent meanwhile.
    lastProgress = { ...lastProgress, ratePps: 0 };
    await sleep(scenario.settle);
  } catch (e) {
    error = (e as Error).message;
    failure = e;
  } finally {
    clearInterval(timer);
    takeSample();
    if (receiver) {
      const truth = blastReport ? await readTruthHosts(truthFile) : [];
      receiverReport = await receiver.stop(hooks.signal?.aborted ? "signal" : "end of load", {
        truth,
      });
    }
    if (external) {
      external.measureLoadEnd();
      measurement = await external.stop();
    }
  }
  if (blastReport === undefined) throw failure;

  const figures = buildFigures({
    spec,
    durationMs,
    startedAt,
    elapsedMs: Date.now() - t0,
    blast: blastReport,
    receiver: receiverReport,
    external: measurement,
    samples,
    rssStart,
    cpuMs: (() => {
      const c = process.cpuUsage(cpuStart);
      return (c.user + c.system) / 1000;
    })(),
    interrupted: hooks.signal?.aborted ?? false,
    error,
  });
  return { figures, samples };
}

interface FigureInputs {
  spec: TrialSpec;
  durationMs: number;
  startedAt: string;
  elapsedMs: number;
  blast: unknown;
  receiver: unknown;
  external: ExternalMeasurement | undefined;
  samples: Sample[];
  rssStart: number;
  /** CPU time of this process during the trial (for our receiver: blaster included). */
  cpuMs: number;
  interrupted: boolean;
  error?: string;
}

/** Flattens the blaster's, the receiver's and the outside measurements into one figures object. */
export function buildFigures(input: FigureInputs): TrialFigures {
  const { spec, blast, receiver, external } = input;
  const b = (path: string) => num(lookup(blast, path));
  const r = (path: string) => num(lookup(receiver, path));
  const blastDurationMs = b("durationMs") || input.durationMs;
  const packetsOnWire = b("packets.sent");
  const hosts = b("hosts") || num(spec.scenario.load.hosts);
  // Memory is divided by the hosts the target actually heard from: the target's own count when
  // it gives one, else at most one host per message sent (a short run may not reach them all).
  const hostsHeard =
    receiver !== undefined
      ? r("hosts")
      : (external?.stats?.hosts ?? Math.min(hosts, b("messages") || hosts));
  let loss: TrialFigures["loss"];
  let drops: TrialFigures["drops"];
  let error = input.error;
  let deliveredPackets: number;
  const peakFromSamples = Math.max(0, ...input.samples.map((s) => s.rssBytes));
  let target: TrialFigures["target"];
  if (receiver !== undefined) {
    const received = r("packets.received");
    drops = {
      total: r("drops.kernel") + r("drops.queue"),
      kernel: r("drops.kernel"),
      queue: r("drops.queue"),
    };
    // What the receiver did not get of what was on the wire; its own drop counters say where
    // most of it went, and the larger of the two is the honest figure.
    const gap = Math.max(0, packetsOnWire - received);
    loss = {
      packets: Math.max(gap, drops.total),
      ratio: packetsOnWire > 0 ? Math.max(gap, drops.total) / packetsOnWire : 0,
      source: "receiver report (packets on the wire - packets received, and its drop counters)",
    };
    deliveredPackets = received;
    const rssFinal = input.samples.at(-1)?.rssBytes ?? process.memoryUsage.rss();
    target = {
      // In-process: this process's CPU time, which includes the blaster (the receiver's
      // per-worker busy time is in receiver.perWorker).
      cpuMs: input.cpuMs,
      rssIdleBytes: input.rssStart,
      rssPeakBytes: peakFromSamples,
      rssFinalBytes: rssFinal,
      memoryPerHostBytes: hostsHeard > 0 ? Math.max(0, rssFinal - input.rssStart) / hostsHeard : 0,
    };
  } else {
    const m = external!;
    drops = {
      total: m.socketDrops,
      kernel: m.socketDrops,
      queue: 0,
      rcvbufErrorsSystemWide: m.rcvbufErrorsSystemWide,
    };
    const processed = m.stats?.workerMessages ?? m.stats?.listenerMessages;
    let lost = m.socketDrops;
    let source = "per-socket drops of the target's port (/proc/net/udp, udp6)";
    target = {
      cpuMs: m.cpuMs,
      rssIdleBytes: m.rssIdleBytes,
      rssPeakBytes: Math.max(m.rssPeakBytes, m.rssFinalBytes),
      rssFinalBytes: m.rssFinalBytes,
      memoryPerHostBytes:
        hostsHeard > 0 ? Math.max(0, m.rssFinalBytes - m.rssIdleBytes) / hostsHeard : 0,
      exitCode: m.exitCode,
      exitSignal: m.exitSignal,
      logFile: m.logFile,
      outputTail: m.outputTail,
    };
    // A target that died or closed its port during the load: datagrams sent after that went
    // nowhere (the kernel answered port unreachable), and its socket counters died with it.
    const died = m.exitedDuringLoad
      ? `the target exited during the trial (code ${m.exitedDuringLoad.code}, signal ${m.exitedDuringLoad.signal})`
      : m.sockets < m.socketsAtLoadStart
        ? `the target closed ${m.socketsAtLoadStart - m.sockets} of its ${m.socketsAtLoadStart} socket(s) during the trial`
        : undefined;
    const lastOutput = m.outputTail.split("\n").slice(-3).join(" | ") || "(none)";
    if (died) {
      error ??= `${died}; last output: ${lastOutput}`;
      if (processed === undefined) {
        // Nothing says how much of the load it took in before it went: none of it is confirmed.
        lost = packetsOnWire;
        source = `${died} without exit statistics: nothing it received can be confirmed`;
      }
    } else if (m.killed && m.stats === null) {
      // Still busy (a netconsd draining a long queue) or deaf to SIGTERM: either way what it took
      // in cannot be reconciled, and the trial must not pass on the socket drops alone.
      error ??= `the target did not exit within target.stopTimeout after SIGTERM and was killed, before any exit statistics; last output: ${lastOutput}`;
    }
    if (processed !== undefined) {
      const unaccounted = packetsOnWire - processed;
      target.netconsd = {
        processed,
        hosts: m.stats?.hosts ?? 0,
        hostsSent: hosts,
        unaccounted,
        unexplained: unaccounted - m.socketDrops,
      };
      if (unaccounted > lost) {
        lost = unaccounted;
        source = "the target's exit statistics (packets on the wire - messages processed)";
      }
    }
    loss = {
      packets: Math.max(0, lost),
      ratio: packetsOnWire > 0 ? Math.max(0, lost) / packetsOnWire : 0,
      source,
    };
    deliveredPackets = Math.max(0, packetsOnWire - loss.packets);
  }
  // The packet ledger, one line per place a datagram can go:
  //   generated = on the wire + send errors + injected loss - injected duplicates (sender side);
  //   on the wire = read by a listener + kernel drops (socket);
  //   read = processed by a worker + queue drops (our receiver), or for an external target:
  //   on the wire = processed (its exit statistics) + kernel drops.
  // `unexplained` is what no counter accounts for; balanced = 1 when it is 0 everywhere.
  const generated = b("datagrams");
  const senderSide =
    generated -
    (packetsOnWire + b("packets.errors") + b("injected.lost") - b("injected.duplicated"));
  let ledger: TrialFigures["ledger"];
  const senderLines = {
    generated,
    injectedLost: b("injected.lost"),
    injectedDuplicated: b("injected.duplicated"),
    sendErrors: b("packets.errors"),
    packetsOnWire,
    kernelDrops: drops.kernel,
    unexplainedSender: senderSide,
  };
  /** Balanced when every `unexplained` line is 0. */
  const ledgerOf = (lines: Record<string, number>, unexplained: number[]) => ({
    balanced: unexplained.every((u) => u === 0) ? 1 : 0,
    unexplained: unexplained.reduce((sum, u) => sum + Math.abs(u), 0),
    lines,
  });
  if (receiver !== undefined) {
    const read = r("packets.read");
    const received = r("packets.received");
    const kernelSide = packetsOnWire - read - r("drops.kernel");
    const queueSide = read - received - r("drops.queue");
    ledger = ledgerOf(
      {
        ...senderLines,
        read,
        queueDrops: r("drops.queue"),
        received,
        unexplainedBeforeRead: kernelSide,
        unexplainedAfterRead: queueSide,
      },
      [senderSide, kernelSide, queueSide],
    );
  } else if (target.netconsd) {
    const targetSide = target.netconsd.unexplained;
    ledger = ledgerOf(
      { ...senderLines, processed: target.netconsd.processed, unexplainedTarget: targetSide },
      [senderSide, targetSide],
    );
  }
  const figures: TrialFigures = {
    trial: spec.index,
    label: spec.label,
    point: spec.point,
    side: spec.side,
    targetKind: spec.scenario.target.kind,
    startedAt: input.startedAt,
    durationMs: blastDurationMs,
    interrupted: input.interrupted,
    error,
    rate: {
      targetPps: b("rate.targetPps") || (spec.ratePps ?? num(spec.scenario.load.rate)),
      achievedPps: b("rate.achievedPps"),
      deliveredPps: blastDurationMs > 0 ? (deliveredPackets * 1000) / blastDurationMs : 0,
    },
    sent: { messages: b("messages"), packets: b("packets.sent"), packetsOnWire },
    loss,
    drops,
    latencyUs: lookup(receiver, "latencyUs") as TrialFigures["latencyUs"],
    injected: numbers(lookup(blast, "injected")),
    expected: numbers(lookup(blast, "expected")),
    packets: numbers(lookup(receiver, "packets")),
    messages: numbers(lookup(receiver, "messages")),
    sequence: numbers(lookup(receiver, "sequence")),
    hosts: receiver !== undefined ? r("hosts") : external?.stats?.hosts,
    ledger,
    target,
    blast,
    receiver,
    external,
  };
  return figures;
}
