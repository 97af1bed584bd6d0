/**
 * One trial: start the target (scenarios/target.ts: our receiver or a command), run the
 * blaster's load into it while sampling the time series, let queues drain, stop the target,
 * and put the blaster's and the target's figures into one flat figures object (TrialFigures)
 * that thresholds and reports read.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type BlastOptions, type BlastReport, runBlast } from "../blaster/blast.ts";
import { startCommandTarget } from "./command-target.ts";
import { startReceiverTarget } from "./receiver-target.ts";
import type { Sample, TrialFigures } from "./results.ts";
import type { Scenario } from "./schema.ts";
import { numbers, type Target, type TargetContext, type TargetFigures } from "./target.ts";

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
  /** The scenario file's directory: a command's program may be named relative to it. */
  scenarioDir?: string;
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

/** How each kind of target starts. */
const TARGETS: Record<Scenario["target"]["kind"], (ctx: TargetContext) => Promise<Target>> = {
  receiver: startReceiverTarget,
  command: startCommandTarget,
};

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
  // durations as text with their unit (a bare number is read as seconds)
  const options: BlastOptions = {
    ...rest,
    target: `${sendHost(address)}:${port}`,
    duration: `${durationMs}ms`,
  };
  const r = ratePps ?? rate;
  if (r !== undefined) options.rate = r;
  if (stormAt !== undefined) options.stormAt = `${stormAt}ms`;
  return options;
}

export async function runTrial(
  spec: TrialSpec,
  hooks: TrialHooks = {},
): Promise<{ figures: TrialFigures; samples: Sample[] }> {
  const { scenario } = spec;
  const durationMs = spec.durationMs ?? scenario.load.duration;
  const startedAt = new Date().toISOString();
  const samples: Sample[] = [];
  const rssStart = process.memoryUsage.rss();
  const cpuStart = process.cpuUsage();

  const target = await TARGETS[scenario.target.kind]({
    scenario,
    logFile: spec.logFile,
    scenarioDir: spec.scenarioDir,
  });

  // Sample the time series while the load runs.
  let lastProgress = { elapsedMs: 0, sent: 0, errors: 0, ratePps: 0, messages: 0 };
  let lastDrops = 0;
  const takeSample = () => {
    const now = Date.now();
    const reading = target.sample();
    lastDrops = reading.drops;
    const sample: Sample = {
      tMs: now - spec.runStartMs,
      trial: spec.index,
      sentPps: lastProgress.ratePps,
      receivedPps: reading.receivedPps,
      drops: reading.drops,
      rssBytes: reading.rssBytes ?? process.memoryUsage.rss(),
    };
    samples.push(sample);
    hooks.onSample?.(sample);
  };
  takeSample();
  const timer = setInterval(takeSample, spec.sampleEveryMs);

  let blast: BlastReport | undefined;
  let error: string | undefined;
  let failure: unknown;
  try {
    blast = await runBlast(
      {
        ...blastOptionsFor(
          scenario,
          scenario.target.address,
          target.port,
          spec.ratePps,
          durationMs,
        ),
        ...target.blastOptions,
      },
      {
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
      },
    );
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
    await target.stop(blast, hooks.signal?.aborted ?? false);
  }
  if (blast === undefined) throw failure;

  const c = process.cpuUsage(cpuStart);
  const hosts = blast.hosts || Number(scenario.load.hosts ?? 0);
  const part = target.figures({
    blast,
    hosts,
    samples,
    rssStart,
    cpuMs: (c.user + c.system) / 1000,
  });
  const figures = trialFigures(spec, {
    blast,
    part,
    durationMs,
    startedAt,
    interrupted: hooks.signal?.aborted ?? false,
    error: error ?? part.error,
  });
  return { figures, samples };
}

/** The trial's figures: the blaster's side, the target's part, the rates. Pure. */
export function trialFigures(
  spec: TrialSpec,
  input: {
    blast: BlastReport;
    part: TargetFigures;
    durationMs: number;
    startedAt: string;
    interrupted: boolean;
    error: string | undefined;
  },
): TrialFigures {
  const { blast, part } = input;
  const blastDurationMs = blast.durationMs || input.durationMs;
  const { deliveredPackets, error: _error, ...targetPart } = part;
  return {
    trial: spec.index,
    label: spec.label,
    point: spec.point,
    side: spec.side,
    targetKind: spec.scenario.target.kind,
    startedAt: input.startedAt,
    durationMs: blastDurationMs,
    interrupted: input.interrupted,
    error: input.error,
    rate: {
      targetPps: blast.rate.targetPps || (spec.ratePps ?? Number(spec.scenario.load.rate ?? 0)),
      achievedPps: blast.rate.achievedPps,
      deliveredPps: blastDurationMs > 0 ? (deliveredPackets * 1000) / blastDurationMs : 0,
    },
    sent: {
      messages: blast.messages,
      packets: blast.packets.sent,
      packetsOnWire: blast.packets.sent,
    },
    injected: numbers(blast.injected),
    expected: numbers(blast.expected),
    ...targetPart,
    blast,
  };
}
