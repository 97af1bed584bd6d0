/**
 * The command target: an external program (a real netconsd, our receiver as a separate
 * process, anything that binds a UDP port) started from the scenario's command template for one
 * trial, measured from outside (scenarios/external-process.ts), optionally with the netconsd
 * probe loaded (`{probe}`, scenarios/probe.ts) for its latency and delivered counts, and turned
 * into the trial's target figures and delivery ledger.
 */
import { mkdirSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { BlastReport } from "../blaster/blast.ts";
import { type LedgerLine, senderLedger } from "../receiver/ledger.ts";
import { expandTemplate } from "./command-template.ts";
import { resolveCommand } from "./executable.ts";
import {
  type ExternalMeasurement,
  type ExternalTarget,
  freeUdpPort,
  startExternalTarget,
} from "./external-process.ts";
import { UsageError } from "./options.ts";
import { expandProbe, type ProbeResult, readProbeFile } from "./probe.ts";
import type { TrialFigures } from "./results.ts";
import type { Scenario } from "./schema.ts";
import {
  type FigureInputs,
  ledgerFigures,
  type Target,
  type TargetContext,
  type TargetFigures,
  type TargetReading,
} from "./target.ts";

type CommandTargetSpec = Extract<Scenario["target"], { kind: "command" }>;

/** This toolkit's own CLI, e.g. to run our receiver as a separate process (`{cli}`). */
const CLI = fileURLToPath(new URL("./cli.ts", import.meta.url));

/**
 * The command line of one trial: `{probe}` (with the environment it needs), then every other
 * placeholder filled in, then its program found (PATH, the working directory, the scenario's
 * directory). Throws a UsageError (one line) for an unknown placeholder, a probe that is not
 * built or a program found nowhere.
 */
export function commandLine(
  target: CommandTargetSpec,
  values: { port: number; out: string; probeDir: string; scenarioDir?: string; what: string },
): { command: string; env: Record<string, string>; probeFile: string | null } {
  const probe = expandProbe(target.command, values.probeDir);
  let command: string;
  try {
    command = expandTemplate(probe.command, {
      ...target.vars,
      listeners: target.listeners,
      workers: target.workers,
      port: values.port,
      address: target.address,
      node: process.execPath,
      cli: CLI,
      out: values.out,
    });
  } catch (error) {
    throw new UsageError(`${values.what}: ${(error as Error).message}`);
  }
  const cwd = resolve(target.cwd ?? ".");
  return {
    command: resolveCommand(command, { cwd, scenarioDir: values.scenarioDir }, values.what),
    env: probe.env,
    probeFile: probe.outFile,
  };
}

/**
 * Checks a scenario's command target before anything starts: its template expands and its
 * program exists. One UsageError line (exit 2) otherwise. A receiver target passes.
 */
export function checkCommandTarget(scenario: Scenario, scenarioFile: string): void {
  if (scenario.target.kind !== "command") return;
  const dir = dirname(resolve(scenarioFile));
  commandLine(scenario.target, {
    port: scenario.target.port || 1,
    out: "out",
    probeDir: dir,
    scenarioDir: dir,
    what: `${scenarioFile}: target.command`,
  });
}

class CommandTarget implements Target {
  readonly kind = "command";
  readonly port: number;
  readonly blastOptions = {};
  private readonly process: ExternalTarget;
  private readonly probeFile: string | null;
  private measurement: ExternalMeasurement | undefined;
  private probe: ProbeResult | { error: string } | null = null;

  constructor(process: ExternalTarget, port: number, probeFile: string | null) {
    this.process = process;
    this.port = port;
    this.probeFile = probeFile;
  }

  sample(): TargetReading {
    const s = this.process.sample();
    return { receivedPps: null, drops: s?.socketDrops ?? 0, rssBytes: s?.rssBytes ?? null };
  }

  async stop(): Promise<void> {
    this.process.measureLoadEnd();
    this.measurement = await this.process.stop();
    // The probe writes its file at netconsd's exit (and every interval before).
    if (this.probeFile !== null) this.probe = readProbeFile(this.probeFile);
  }

  figures(inputs: FigureInputs): TargetFigures {
    const m = this.measurement;
    if (!m) throw new Error("command target: figures() before stop()");
    return commandFigures(m, this.probe, inputs);
  }
}

/**
 * The command target's figures: loss from its socket drops and, when it printed them, its exit
 * statistics (netconsd's "processed by workers"); with the probe, its latency, what it delivered
 * to the output modules, and the delivery ledger. Pure.
 */
export function commandFigures(
  m: ExternalMeasurement,
  probeRead: ProbeResult | { error: string } | null,
  inputs: FigureInputs,
): TargetFigures {
  const onWire = inputs.blast.packets.sent;
  const probe = probeRead !== null && !("error" in probeRead) ? probeRead : null;
  const hostsHeard =
    probe?.delivered.hosts ?? m.stats?.hosts ?? Math.min(inputs.hosts, inputs.blast.messages);
  const drops: TrialFigures["drops"] = {
    total: m.socketDrops,
    kernel: m.socketDrops,
    queue: 0,
    rcvbufErrorsSystemWide: m.rcvbufErrorsSystemWide,
  };
  const processed = m.stats?.workerMessages ?? m.stats?.listenerMessages;
  let lost = m.socketDrops;
  let source = "per-socket drops of the target's port (/proc/net/udp, udp6)";
  let error: string | undefined;
  const target: TrialFigures["target"] = {
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
    error = `${died}; last output: ${lastOutput}`;
    if (processed === undefined) {
      // Nothing says how much of the load it took in before it went: none of it is confirmed.
      lost = onWire;
      source = `${died} without exit statistics: nothing it received can be confirmed`;
    }
  } else if (m.killed && m.stats === null) {
    // Still busy (a netconsd draining a long queue) or deaf to SIGTERM: either way what it took
    // in cannot be reconciled, and the trial must not pass on the socket drops alone.
    error = `the target did not exit within target.stopTimeout after SIGTERM and was killed, before any exit statistics; last output: ${lastOutput}`;
  }
  if (processed !== undefined) {
    const unaccounted = onWire - processed;
    target.netconsd = {
      processed,
      hosts: m.stats?.hosts ?? 0,
      hostsSent: inputs.hosts,
      unaccounted,
      unexplained: unaccounted - m.socketDrops,
    };
    if (unaccounted > lost) {
      lost = unaccounted;
      source = "the target's exit statistics (packets on the wire - messages processed)";
    }
  }
  if (probeRead !== null && "error" in probeRead) {
    // {probe} asked for the target's latency and delivery: without them the trial is not what
    // the scenario measures.
    error ??= `probe: ${probeRead.error}`;
  }
  lost = Math.max(0, lost);
  return {
    loss: { packets: lost, ratio: onWire > 0 ? lost / onWire : 0, source },
    drops,
    deliveredPackets: Math.max(0, onWire - lost),
    target,
    ledger: commandLedger(inputs.blast, m, processed, probe),
    latencyUs: probe ? measuredLatency(probe) : undefined,
    messages: probe
      ? {
          extended: probe.delivered.extended,
          legacy: probe.delivered.legacy,
          oos: probe.delivered.oos,
          seqReset: probe.delivered.seqReset,
        }
      : undefined,
    hosts: probe?.delivered.hosts ?? m.stats?.hosts,
    external: probe ? { ...m, probe } : m,
    error,
  };
}

/**
 * The probe's latency summaries that rest on at least one value: a histogram that recorded
 * nothing (e.g. no listener-to-output delay for a load of extended messages only) would read
 * p99 = 0, a figure a threshold would pass on.
 */
function measuredLatency(probe: ProbeResult): TrialFigures["latencyUs"] {
  const out: NonNullable<TrialFigures["latencyUs"]> = {};
  for (const [name, summary] of Object.entries(probe.latencyUs)) {
    if (summary.count > 0) out[name] = { ...summary };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The command target's ledger (datagrams; netconsd counts one message per datagram of a
 * 64-byte load): what went on the wire is what the kernel dropped at its sockets, plus what it
 * processed. With the probe, processed splits into what reached the output modules and what
 * was still held at exit (ncrx keeps messages behind a sequence hole). So: sent = delivered to
 * outputs + held at exit + kernel drops + lost on purpose (on the sender's side). Without exit
 * statistics nothing balances it (undefined without them and without the probe).
 */
export function commandLedger(
  blast: BlastReport,
  m: ExternalMeasurement,
  processed: number | undefined,
  probe: ProbeResult | null,
): TrialFigures["ledger"] {
  if (processed === undefined && probe === null) return undefined;
  const sender = senderLedger(blast);
  const onWire = blast.packets.sent;
  const lines: LedgerLine[] = [
    ...sender.lines,
    { name: "dropped by the kernel", sign: -1, datagrams: m.socketDrops },
  ];
  const unexplained = [sender.mismatch];
  if (probe) {
    const delivered = probe.delivered.extended + probe.delivered.legacy;
    lines.push({ name: "delivered to the output modules", sign: -1, datagrams: delivered });
    if (processed !== undefined) {
      lines.push({ name: "held at exit", sign: -1, datagrams: processed - delivered });
    }
    const accounted = processed ?? delivered;
    lines.push({ name: "unaccounted", sign: 0, datagrams: onWire - m.socketDrops - accounted });
    unexplained.push(onWire - m.socketDrops - accounted);
    // more delivered than processed: the two counts disagree
    if (processed !== undefined && delivered > processed) unexplained.push(delivered - processed);
  } else if (processed !== undefined) {
    lines.push({ name: "processed by the target", sign: -1, datagrams: processed });
    lines.push({ name: "unaccounted", sign: 0, datagrams: onWire - m.socketDrops - processed });
    unexplained.push(onWire - m.socketDrops - processed);
  }
  return ledgerFigures(lines, unexplained);
}

/** Starts the scenario's command for one trial, waits for its port, then its warm-up. */
export async function startCommandTarget(ctx: TargetContext): Promise<Target> {
  const target = ctx.scenario.target as CommandTargetSpec;
  const port = target.port === 0 ? await freeUdpPort() : target.port;
  const out = ctx.logFile.replace(/\.log$/, "");
  const probeDir = `${out}.probe`;
  const line = commandLine(target, {
    port,
    out,
    probeDir,
    scenarioDir: ctx.scenarioDir,
    what: "target.command",
  });
  if (line.probeFile !== null) {
    // A file left by an earlier run in the same place must not pass for this trial's figures.
    mkdirSync(probeDir, { recursive: true });
    rmSync(line.probeFile, { force: true });
  }
  const process = await startExternalTarget({
    command: line.command,
    env: line.env,
    port,
    cwd: target.cwd,
    readyTimeoutMs: target.readyTimeout,
    stopTimeoutMs: target.stopTimeout,
    logFile: ctx.logFile,
  });
  if (target.warmup > 0) await sleep(target.warmup);
  process.markLoadStart();
  return new CommandTarget(process, port, line.probeFile);
}
