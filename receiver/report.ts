/** Human forms of the receiver's progress and final report (the JSON forms are the objects). */
import type { LatencySummary } from "../blaster/latency.ts";
import type { ReceiverProgress } from "./receive.ts";
import type { ReceiverReport } from "./receiver-report.ts";

const n = (v: number) => Math.round(v).toLocaleString("en-US");

function us(v: number): string {
  if (v >= 1_000_000) return `${(v / 1_000_000).toFixed(2)}s`;
  if (v >= 1000) return `${(v / 1000).toFixed(2)}ms`;
  return `${v >= 10 ? Math.round(v) : v.toFixed(2)}us`;
}

/** One live line: elapsed, rate in, totals, drops, hosts, interval p99. */
export function formatProgress(p: ReceiverProgress): string {
  return (
    `[${(p.elapsedMs / 1000).toFixed(1)}s] in ${n(p.ratePps)} pkt/s | read ${n(p.packets.read)} ` +
    `msgs ${n(p.messages.extended + p.messages.legacy)} | drops kernel ${n(p.drops.kernel)} ` +
    `queue ${n(p.drops.queue)} | hosts ${n(p.hosts)} | p99 ${p.p99Us ? us(p.p99Us) : "-"} | ` +
    `queue max ${n(p.queueMaxDepth)}`
  );
}

function latencyRow(name: string, s: LatencySummary): string {
  if (s.count === 0) return `  ${name.padEnd(12)} (none)`;
  return (
    `  ${name.padEnd(12)} p50 ${us(s.p50)}  p90 ${us(s.p90)}  p99 ${us(s.p99)}  ` +
    `p99.9 ${us(s.p999)}  p99.99 ${us(s.p9999)}  max ${us(s.max)}  (n=${n(s.count)})`
  );
}

export function formatReport(r: ReceiverReport): string {
  const c = r.config;
  const s = r.sequence;
  const m = r.messages;
  const lines = [
    `netcons-bench receive on [${c.address}]:${c.port}, ${c.listeners} listener(s), ${c.workers} worker(s), ` +
      `${(r.durationMs / 1000).toFixed(1)}s (${r.stopReason})`,
    `packets   read ${n(r.packets.read)}  processed ${n(r.packets.received)}  malformed ${n(r.packets.malformed)}  ` +
      `${n(r.packets.ratePps)} pkt/s`,
    `messages  extended ${n(m.extended)}  legacy ${n(m.legacy)}  fragments ${n(m.fragments)}  ` +
      `reassembled ${n(m.reassembled)}  incomplete ${n(m.incomplete)}`,
    `sequence  missing ${n(s.missing)}  out-of-order ${n(s.outOfOrder)}  duplicates ${n(s.duplicates)}  ` +
      `resets ${n(s.resets)}  emergency ${n(s.emergency)}`,
    `  ncrx    holes given up ${n(s.holesGivenUp)} (forced ${n(s.holesForced)})  held ${n(s.heldBehindHole)}  ` +
      `late ${n(s.lateAfterGiveUp)}  out-of-sequence ${n(s.outOfSequence)} (emitted ${n(s.oosEmitted)}, ` +
      `resets ${n(s.oosResets)})  stale ${n(s.stale)}`,
    `drops     kernel ${n(r.drops.kernel)}${r.drops.kernelCountersAvailable ? "" : " (no /proc: unknown)"}  ` +
      `queue ${n(r.drops.queue)}  (system RcvbufErrors +${n(r.drops.kernelRcvbufErrorsSystem)})`,
    `hosts     ${n(r.hosts)} seen, ${n(r.hostsTracked)} tracked at the end, ${n(r.hostsEvicted)} evicted`,
    `buffers   rcvbuf granted ${n(r.rcvbuf.grantedBytes)} B` +
      (r.rcvbuf.requestedBytes ? ` (asked ${n(r.rcvbuf.requestedBytes)})` : " (system default)") +
      `, queue deepest ${n(r.queue.maxDepth)} of ${n(r.queue.limit)}`,
    `workers   ${r.perWorker.map((w) => `#${w.index} ${n(w.datagrams)} dgrams ${w.busyPercent}% busy`).join(", ")}`,
    "latency",
    latencyRow("end-to-end", r.latencyUs.endToEnd),
    latencyRow("queue", r.latencyUs.queue),
    latencyRow("processing", r.latencyUs.processing),
    ...(r.failures.length > 0
      ? ["FAILURES (figures of these threads are partial)", ...r.failures.map((f) => `  - ${f}`)]
      : []),
    "advice",
    ...r.advice.map((a) => `  - ${a.message}`),
  ];
  return `${lines.join("\n")}\n`;
}
