/** Human forms of the receiver's progress and final report (the JSON forms are the objects). */
import type { LatencySummary } from "../blaster/latency.ts";
import { bytes, count, durationUs, percent, rate } from "../scenarios/format.ts";
import type { ReceiverProgress } from "./receive.ts";
import type { ReceiverReport } from "./receiver-report.ts";

/** One live line: elapsed, rate in, totals, drops, hosts, interval p99. */
export function formatProgress(p: ReceiverProgress): string {
  return (
    `[${durationUs(p.elapsedMs * 1000)}] in ${rate(p.ratePps)} | read ${count(p.packets.read)} ` +
    `msgs ${count(p.messages.extended + p.messages.legacy)} | drops kernel ${count(p.drops.kernel)} ` +
    `queue ${count(p.drops.queue)} | hosts ${count(p.hosts)} | p99 ${p.p99Us ? durationUs(p.p99Us) : "-"} | ` +
    `queue max ${count(p.queueMaxDepth)}`
  );
}

function latencyRow(name: string, s: LatencySummary): string {
  if (s.count === 0) return `  ${name.padEnd(12)} (none)`;
  return (
    `  ${name.padEnd(12)} p50 ${durationUs(s.p50)}  p90 ${durationUs(s.p90)}  p99 ${durationUs(s.p99)}  ` +
    `p99.9 ${durationUs(s.p999)}  p99.99 ${durationUs(s.p9999)}  max ${durationUs(s.max)}  (n=${count(s.count)})`
  );
}

export function formatReport(r: ReceiverReport): string {
  const c = r.config;
  const s = r.sequence;
  const m = r.messages;
  const lines = [
    `netcons-bench receive${r.mergedFrom > 1 ? ` (${r.mergedFrom} receivers merged)` : ""} on [${c.address}]:${c.port}, ${c.listeners} listener(s), ${c.workers} worker(s), ` +
      `${durationUs(r.durationMs * 1000)} (${r.stopReason})${r.complete ? "" : ", INCOMPLETE: figures from live counters"}`,
    `packets   read ${count(r.packets.read)}  processed ${count(r.packets.received)}  malformed ${count(r.packets.malformed)}  ` +
      `${rate(r.packets.ratePps)} over ${durationUs(r.activeMs * 1000)} of traffic`,
    `messages  extended ${count(m.extended)}  legacy ${count(m.legacy)}  fragments ${count(m.fragments)}  ` +
      `reassembled ${count(m.reassembled)}  incomplete ${count(m.incomplete)}  ` +
      `NUL-terminated ${count(m.nulTerminated)}  dropped as duplicates ${count(m.duplicates)}`,
    `sequence  missing ${count(s.missing)}  out-of-order ${count(s.outOfOrder)}  duplicates ${count(s.duplicates)}  ` +
      `resets ${count(s.resets)}  emergency ${count(s.emergency)}`,
    `  ncrx    holes given up ${count(s.holesGivenUp)} (forced ${count(s.holesForced)})  held ${count(s.heldBehindHole)}  ` +
      `late ${count(s.lateAfterGiveUp)}  out-of-sequence ${count(s.outOfSequence)} (emitted ${count(s.oosEmitted)}, ` +
      `resets ${count(s.oosResets)})  stale ${count(s.stale)}`,
    `drops     kernel ${count(r.drops.kernel)}${r.drops.kernelCountersAvailable ? "" : " (no /proc: unknown)"}  ` +
      `queue ${count(r.drops.queue)}  (system RcvbufErrors +${count(r.drops.kernelRcvbufErrorsSystem)})`,
    `hosts     ${count(r.hosts)} seen, ${count(r.hostsTracked)} tracked at the end, ${count(r.hostsEvicted)} evicted`,
    `buffers   rcvbuf granted ${bytes(r.rcvbuf.grantedBytes)}` +
      (r.rcvbuf.requestedBytes
        ? ` (asked ${bytes(r.rcvbuf.requestedBytes)})`
        : " (system default)") +
      `, queue deepest ${count(r.queue.maxDepth)} of ${count(r.queue.limit)}`,
    `workers   ${r.perWorker.map((w) => `#${w.index} ${count(w.datagrams)} dgrams ${percent(w.busyPercent / 100)} busy`).join(", ")}`,
    "latency",
    latencyRow("end-to-end", r.latencyUs.endToEnd),
    latencyRow("queue", r.latencyUs.queue),
    latencyRow("processing", r.latencyUs.processing),
    ...(r.failures.length > 0
      ? ["FAILURES (figures of these threads are partial)", ...r.failures.map((f) => `  - ${f}`)]
      : []),
    ...(r.mergedFrom > 1
      ? [`advice    left out: ${r.mergedFrom} receivers merged (see each receiver's own report)`]
      : ["advice", ...r.advice.map((a) => `  - ${a.message}`)]),
  ];
  return `${lines.join("\n")}\n`;
}
