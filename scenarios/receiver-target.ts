/**
 * The receiver target: our receiver started in this process for one trial, read through its
 * snapshots while the load runs, stopped with the sender's truth (so losses at the stream edges
 * count), and its report turned into the trial's target figures and ledger
 * (receiver/ledger.ts).
 */
import type { BlastReport } from "../blaster/blast.ts";
import { extendedHosts, readTruth } from "../blaster/truth.ts";
import { reconcile } from "../receiver/ledger.ts";
import {
  type ReceiverOptions,
  type ReceiverReport,
  type RunningReceiver,
  startReceiver,
} from "../receiver/receive.ts";
import type { Scenario } from "./schema.ts";
import {
  type FigureInputs,
  ledgerFigures,
  numbers,
  type Target,
  type TargetContext,
  type TargetFigures,
  type TargetReading,
} from "./target.ts";

type ReceiverTargetSpec = Extract<Scenario["target"], { kind: "receiver" }>;

class ReceiverTarget implements Target {
  readonly kind = "receiver";
  readonly port: number;
  readonly blastOptions: { truth: string };
  private readonly receiver: RunningReceiver;
  private report: ReceiverReport | undefined;
  private truthError: string | undefined;
  private last: { at: number; packets: number } | null = null;

  constructor(receiver: RunningReceiver, truthFile: string) {
    this.receiver = receiver;
    this.port = receiver.port;
    this.blastOptions = { truth: truthFile };
  }

  sample(): TargetReading {
    const now = Date.now();
    const snap = this.receiver.snapshot();
    const packets = snap.packets.received;
    const receivedPps =
      this.last && now > this.last.at
        ? ((packets - this.last.packets) * 1000) / (now - this.last.at)
        : null;
    this.last = { at: now, packets };
    return {
      receivedPps,
      drops: snap.drops.kernel + snap.drops.queue,
      // in-process: this process's RSS
      rssBytes: null,
    };
  }

  async stop(blast: BlastReport | undefined, aborted: boolean): Promise<void> {
    // The truth file is only there when the load ran; without it edge losses are not counted,
    // which fails the trial (its loss figures would be short), but the receiver still stops.
    let truth: ReturnType<typeof extendedHosts> = [];
    try {
      if (blast?.truthFile) truth = extendedHosts(readTruth(blast.truthFile));
    } catch (error) {
      this.truthError = `the blaster's truth file could not be read: ${(error as Error).message}`;
    }
    this.report = await this.receiver.stop(aborted ? "signal" : "end of load", { truth });
  }

  figures(inputs: FigureInputs): TargetFigures {
    const report = this.report;
    if (!report) throw new Error("receiver target: figures() before stop()");
    const onWire = inputs.blast.packets.sent;
    const received = report.packets.received;
    const drops = {
      total: report.drops.kernel + report.drops.queue,
      kernel: report.drops.kernel,
      queue: report.drops.queue,
    };
    // What the receiver did not get of what was on the wire; its own drop counters say where
    // most of it went, and the larger of the two is the honest figure.
    const lost = Math.max(Math.max(0, onWire - received), drops.total);
    const rssFinal = inputs.samples.at(-1)?.rssBytes ?? process.memoryUsage.rss();
    const ledger = reconcile(inputs.blast, report);
    return {
      loss: {
        packets: lost,
        ratio: onWire > 0 ? lost / onWire : 0,
        source: "receiver report (packets on the wire - packets received, and its drop counters)",
      },
      drops,
      deliveredPackets: received,
      target: {
        // In-process: this process's CPU time, which includes the blaster (the receiver's
        // per-worker busy time is in receiver.perWorker).
        cpuMs: inputs.cpuMs,
        rssIdleBytes: inputs.rssStart,
        rssPeakBytes: Math.max(0, ...inputs.samples.map((s) => s.rssBytes)),
        rssFinalBytes: rssFinal,
        // divided by the hosts it heard from (a short run may not reach them all)
        memoryPerHostBytes:
          report.hosts > 0 ? Math.max(0, rssFinal - inputs.rssStart) / report.hosts : 0,
      },
      ledger: ledgerFigures(ledger.lines, [ledger.blasterMismatch, ledger.unaccounted]),
      latencyUs: report.latencyUs,
      packets: numbers(report.packets),
      messages: numbers(report.messages),
      sequence: numbers(report.sequence),
      hosts: report.hosts,
      receiver: report,
      error: this.truthError,
    };
  }
}

/** Starts our receiver for one trial (bound on the dual-stack wildcard unless the options say). */
export async function startReceiverTarget(ctx: TargetContext): Promise<Target> {
  const target = ctx.scenario.target as ReceiverTargetSpec;
  const receiver = await startReceiver({
    bind: "::",
    ...target.options,
    listeners: target.listeners,
    workers: target.workers,
    port: target.port,
  } as ReceiverOptions);
  return new ReceiverTarget(receiver, ctx.logFile.replace(/\.log$/, ".truth.jsonl"));
}
