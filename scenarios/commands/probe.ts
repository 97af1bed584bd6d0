/**
 * `netcons-bench probe`: the path of the netconsd probe module (to load into a netconsd run
 * anywhere), or with --read the figures of a file the probe wrote.
 */
import type { Command } from "commander";
import { count, durationUs } from "../format.ts";
import { EXIT, errorLine, UsageError } from "../options.ts";
import { checkWritable, humanOut, writeJson } from "../output-files.ts";
import {
  PROBE_INTERVAL_ENV,
  PROBE_OUT_ENV,
  type ProbeResult,
  probeBuildError,
  probeModulePath,
  readProbeFile,
} from "../probe.ts";

interface ProbeOptions {
  json?: string;
  read?: string;
}

function latencyLine(name: string, s: ProbeResult["latencyUs"]["endToEnd"], note: string): string {
  if (s.count === 0) return `${name.padEnd(12)}none measured (${note})\n`;
  return `${name.padEnd(12)}p50 ${durationUs(s.p50)}, p99 ${durationUs(s.p99)}, p99.9 ${durationUs(s.p999)}, max ${durationUs(s.max)} over ${count(s.count)} (${note})\n`;
}

function summary(file: string, r: ProbeResult): string {
  const d = r.delivered;
  return [
    `probe file ${file}: ${r.final ? "final (written at netconsd's exit)" : "an interval snapshot (netconsd had not exited)"}\n`,
    `${"delivered".padEnd(12)}${count(d.extended)} extended, ${count(d.legacy)} legacy/unparsed; flags ${count(d.oos)} oos, ${count(d.seqReset)} seq_reset; ${count(d.hosts)} hosts${r.hostsExact ? "" : " (estimated)"}\n`,
    latencyLine("end-to-end", r.latencyUs.endToEnd, "stamped messages"),
    latencyLine("queue", r.latencyUs.queue, "listener to output, legacy/unparsed form only"),
    r.handlerNsPerMessage === null || r.handlerNs === null
      ? ""
      : `${"probe cost".padEnd(12)}${count(r.handlerNsSteadyMean)} ns per message in its handler (mean of calls under 10 µs; ${count(r.handlerNsPerMessage)} ns with preempted and page-faulting calls), p50 ${count(r.handlerNs.p50)} ns, p99 ${count(r.handlerNs.p99)} ns (self-timed)\n`,
    `${"per worker".padEnd(12)}${r.perWorker.map((w) => `#${w.index} ${count(w.delivered)} (${count(w.hosts)} hosts)`).join(", ")}\n`,
    r.clockAnomalies.endToEndNegative > 0
      ? `warning: ${count(r.clockAnomalies.endToEndNegative)} stamps lie in the future: the blaster ran on another machine (CLOCK_MONOTONIC differs), end-to-end figures are meaningless\n`
      : "",
  ].join("");
}

export function register(program: Command): void {
  program
    .command("probe")
    .description(
      `Print the path of the netconsd probe module: load it into netconsd as an output module ` +
        `(netconsd ... /path/netcons-probe.so) with ${PROBE_OUT_ENV}=FILE set, and it writes ` +
        `its delivery counts and latency histograms to FILE every second (${PROBE_INTERVAL_ENV}) ` +
        `and at exit. With --read, summarise such a file.`,
    )
    .option("--read <file>", "summarise a file the probe wrote instead")
    .option("--json <file>", "write the path (or with --read the figures) as JSON (- = stdout)")
    .action((opts: ProbeOptions) => {
      checkWritable([["--json", opts.json]]);
      const out = humanOut(opts.json);
      if (opts.read !== undefined) {
        const result = readProbeFile(opts.read);
        if ("error" in result) throw new UsageError(result.error);
        out.write(summary(opts.read, result));
        if (opts.json) writeJson(opts.json, { file: opts.read, ...result });
        return;
      }
      const modulePath = probeModulePath();
      const error = probeBuildError();
      if (opts.json) {
        writeJson(opts.json, {
          modulePath,
          error,
          variables: { outputFile: PROBE_OUT_ENV, intervalMs: PROBE_INTERVAL_ENV },
        });
      }
      if (modulePath === null) {
        process.stderr.write(errorLine(error, "the netconsd probe is not built"));
        process.exitCode = EXIT.failure;
        return;
      }
      if (opts.json !== "-") process.stdout.write(`${modulePath}\n`);
    });
}
