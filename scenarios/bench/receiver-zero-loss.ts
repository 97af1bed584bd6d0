/**
 * Zero-loss throughput of the receiver: for each listeners x workers
 * configuration, the highest blaster rate at which a run of --seconds shows no kernel drop, no
 * queue drop and no sequence loss, found by a bounded bisection (RFC 2544 style). Blaster and
 * receiver share this machine's cores, so the figure is a floor for the receiver alone.
 *
 *   npm run bench:receiver-zero-loss -- [--configs 1x1,2x2] [--seconds 10] [--start 100000]
 *     [--max 400000] [--trials 5] [--hosts 1000] [--size 64] [--rcvbuf 0] [--blast-batch 256]
 *     [--listener-kinds native,dgram] [--blast-transport socket|udp-batch] [--json FILE]
 *
 * With several listener kinds, their bisections run side by side, one trial of each in turn, so
 * both read paths see the same machine state.
 *
 * The blaster sends its datagrams in batches (256 by default) at each batch's intended time, so
 * a socket must absorb a whole batch: a default 212,992-byte buffer holds about 250 small
 * datagrams (each costs its payload plus ~800 bytes of kernel overhead).
 */
import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { runBlast } from "../../blaster/blast.ts";
import { reconcile } from "../../receiver/ledger.ts";
import { startReceiver } from "../../receiver/receive.ts";

const { values } = parseArgs({
  options: {
    configs: { type: "string", default: "1x1,2x2" },
    seconds: { type: "string", default: "10" },
    start: { type: "string", default: "100000" },
    max: { type: "string", default: "400000" },
    trials: { type: "string", default: "5" },
    hosts: { type: "string", default: "1000" },
    size: { type: "string", default: "64" },
    rcvbuf: { type: "string", default: "0" },
    "blast-batch": { type: "string", default: "256" },
    "listener-kinds": { type: "string", default: "auto" },
    // udp-batch (sendmmsg, needs the native addon) lifts the blaster's own ceiling.
    "blast-transport": { type: "string", default: "socket" },
    json: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const trials = Number(values.trials);
const hosts = Number(values.hosts);
const size = Number(values.size);
const rcvbuf = Number(values.rcvbuf);
const maxRate = Number(values.max);

interface Trial {
  ratePps: number;
  achievedPps: number;
  sent: number;
  received: number;
  kernelDrops: number;
  queueDrops: number;
  missing: number;
  unaccounted: number;
  pass: boolean;
  p99Us: number;
  queueP99Us: number;
  busiestWorkerPercent: number;
}

type Kind = "auto" | "native" | "dgram";

async function trial(
  listeners: number,
  workers: number,
  ratePps: number,
  listener: Kind,
): Promise<Trial> {
  const r = await startReceiver({
    bind: "127.0.0.1",
    port: 0,
    listeners,
    workers,
    rcvbuf,
    listener,
  });
  const blast = await runBlast({
    target: `127.0.0.1:${r.port}`,
    hosts,
    duration: `${seconds}s`,
    rate: ratePps,
    format: "extended",
    size,
    seed: 1,
    batch: Number(values["blast-batch"]),
    transport: values["blast-transport"],
  });
  // Let the receiver drain (bounded): until everything sent is accounted for, or 3 s.
  const end = Date.now() + 3000;
  while (Date.now() < end) {
    const s = r.snapshot();
    if (
      s.packets.read + s.drops.kernel >= blast.packets.sent &&
      s.packets.received >= s.packets.read - s.drops.queue
    )
      break;
    await sleep(50);
  }
  const report = await r.stop("trial done");
  const ledger = reconcile(blast, report);
  const t: Trial = {
    ratePps,
    achievedPps: Math.round(blast.rate.achievedPps),
    sent: blast.packets.sent,
    received: report.packets.received,
    kernelDrops: report.drops.kernel,
    queueDrops: report.drops.queue,
    missing: report.sequence.missing,
    unaccounted: ledger.unaccounted,
    pass: false,
    p99Us: report.latencyUs.endToEnd.p99,
    queueP99Us: report.latencyUs.queue.p99,
    busiestWorkerPercent: Math.max(...report.perWorker.map((w) => w.busyPercent)),
  };
  t.pass = t.kernelDrops === 0 && t.queueDrops === 0 && t.missing === 0 && t.unaccounted === 0;
  return t;
}

/** One bisection (RFC 2544 style): its state and its step after each trial. */
class Search {
  lo = 0;
  hi = Number.POSITIVE_INFINITY;
  rate = Number(values.start);
  done: Trial[] = [];
  finished = false;
  readonly label: string;
  constructor(label: string) {
    this.label = label;
  }
  step(t: Trial): void {
    this.done.push(t);
    const rate = this.rate;
    // A pass only counts at the rate the blaster actually achieved.
    if (t.pass) this.lo = Math.max(this.lo, Math.min(rate, t.achievedPps));
    else this.hi = Math.min(this.hi, rate);
    if (t.pass && t.achievedPps < rate * 0.95) {
      console.log(
        `  ${this.label}: the blaster could not reach this rate: its figure is the ceiling here`,
      );
      this.finished = true;
      return;
    }
    const bounded = Number.isFinite(this.hi);
    this.rate = bounded ? Math.round((this.lo + this.hi) / 2) : Math.min(maxRate, rate * 2);
    if (bounded && this.hi - this.lo <= this.hi * 0.05) this.finished = true;
    if (!bounded && this.lo >= maxRate) this.finished = true;
  }
}

const results: { config: string; listener: string; zeroLossPps: number; trials: Trial[] }[] = [];
for (const config of values.configs.split(",")) {
  const [listeners, workers] = config.split("x").map(Number);
  const kinds = values["listener-kinds"].split(",") as Kind[];
  const searches = kinds.map((k) => new Search(`-l${listeners} -w${workers} --listener ${k}`));
  for (let i = 0; i < trials; i++) {
    for (const [k, search] of searches.entries()) {
      if (search.finished) continue;
      const rate = search.rate;
      const t = await trial(listeners, workers, rate, kinds[k]);
      console.log(
        `${search.label} rate ${rate}: achieved ${t.achievedPps} pps, sent ${t.sent}, ` +
          `kernel ${t.kernelDrops}, queue ${t.queueDrops}, missing ${t.missing}, unaccounted ${t.unaccounted}, ` +
          `e2e p99 ${t.p99Us} us, queue p99 ${t.queueP99Us} us, busiest worker ${t.busiestWorkerPercent}% -> ${t.pass ? "PASS" : "loss"}`,
      );
      search.step(t);
    }
  }
  for (const [k, search] of searches.entries()) {
    console.log(`${search.label}: zero-loss throughput ${search.lo} msg/s (${seconds} s runs)`);
    results.push({
      config: `-l${listeners} -w${workers}`,
      listener: kinds[k],
      zeroLossPps: search.lo,
      trials: search.done,
    });
  }
}
if (values.json)
  writeFileSync(values.json, `${JSON.stringify({ seconds, hosts, size, results }, null, 2)}\n`);
