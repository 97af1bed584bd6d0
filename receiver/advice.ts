/**
 * Tuning advice from a run's figures (pure): each line names the rule, says what to change and
 * carries the figures that led to it, so a user can check the reasoning. The rules follow
 * netconsd's own tuning lessons: socket drops -> more listeners or a larger receive buffer;
 * queue growth or drops -> more workers; one worker far busier than the rest -> too few distinct
 * sources for the hash to spread.
 */

export interface AdviceInput {
  durationMs: number;
  listeners: number;
  workers: number;
  datagramsRead: number;
  kernelDrops: number;
  queueDrops: number;
  queueLimit: number;
  queueMaxDepth: number;
  rcvbufGrantedBytes: number;
  /** net.core.rmem_max, or 0 when unknown. */
  rmemMaxBytes: number;
  /** Datagrams processed by each worker. */
  workerDatagrams: number[];
  /** Busy time of each worker, µs. */
  workerBusyUs: number[];
  hosts: number;
  hostsEvicted: number;
  maxHosts: number;
  incomplete: number;
  malformed: number;
  received: number;
}

export interface AdviceLine {
  rule: string;
  message: string;
  figures: Record<string, number>;
}

/** A queue this full (share of --queue-limit) counts as growing. */
const QUEUE_HIGH_WATER = 0.5;
/** A worker with this many times its fair share of datagrams is far busier than the rest. */
const BUSY_RATIO = 2;
/** A worker busy this share of the run is close to its limit. */
const BUSY_UTILIZATION = 0.8;

const pct = (part: number, whole: number) =>
  whole > 0 ? Math.round((part / whole) * 10000) / 100 : 0;

export function adviseTuning(f: AdviceInput): AdviceLine[] {
  const out: AdviceLine[] = [];
  const arrivals = f.datagramsRead + f.kernelDrops;

  if (f.kernelDrops > 0) {
    const canGrow = f.rmemMaxBytes === 0 || f.rcvbufGrantedBytes < f.rmemMaxBytes * 2;
    out.push({
      rule: "kernel-drops",
      message:
        `the kernel dropped ${f.kernelDrops} datagrams (${pct(f.kernelDrops, arrivals)}% of arrivals) ` +
        `with ${f.listeners} listener(s) and a ${f.rcvbufGrantedBytes}-byte receive buffer: ` +
        `add listeners (--listeners ${f.listeners + 1})` +
        (canGrow
          ? ` or raise --rcvbuf${f.rmemMaxBytes ? ` (net.core.rmem_max = ${f.rmemMaxBytes} caps it)` : ""}`
          : ` (the buffer is already at net.core.rmem_max = ${f.rmemMaxBytes}; raise that sysctl first)`),
      figures: {
        kernelDrops: f.kernelDrops,
        arrivals,
        dropPercent: pct(f.kernelDrops, arrivals),
        listeners: f.listeners,
        rcvbufGrantedBytes: f.rcvbufGrantedBytes,
        rmemMaxBytes: f.rmemMaxBytes,
      },
    });
  }

  if (f.queueDrops > 0 || f.queueMaxDepth >= f.queueLimit * QUEUE_HIGH_WATER) {
    out.push({
      rule: "queue",
      message:
        f.queueDrops > 0
          ? `worker queues overflowed: ${f.queueDrops} datagrams dropped (${pct(f.queueDrops, f.datagramsRead)}% of those read), ` +
            `deepest queue ${f.queueMaxDepth} of ${f.queueLimit}: add workers (--workers ${f.workers + 1})`
          : `worker queues grew to ${f.queueMaxDepth} of ${f.queueLimit} (${pct(f.queueMaxDepth, f.queueLimit)}%): ` +
            `workers are close to falling behind; add workers (--workers ${f.workers + 1})`,
      figures: {
        queueDrops: f.queueDrops,
        queueMaxDepth: f.queueMaxDepth,
        queueLimit: f.queueLimit,
        workers: f.workers,
      },
    });
  }

  if (f.workers > 1 && f.received > 0) {
    const fair = f.received / f.workers;
    const busiest = Math.max(...f.workerDatagrams);
    const index = f.workerDatagrams.indexOf(busiest);
    if (busiest > fair * BUSY_RATIO) {
      out.push({
        rule: "imbalance",
        message:
          `worker ${index} handled ${busiest} datagrams, ${Math.round((busiest / fair) * 100) / 100}x its fair share, ` +
          `from ${f.hosts} distinct source(s) for ${f.workers} workers: too few distinct sources for the ` +
          `address hash to spread; more workers will not help, more source addresses will`,
        figures: {
          busiestWorker: index,
          busiestDatagrams: busiest,
          fairShare: Math.round(fair),
          hosts: f.hosts,
          workers: f.workers,
        },
      });
    }
  }

  if (f.durationMs > 0) {
    const utilization = f.workerBusyUs.map((us) => us / 1000 / f.durationMs);
    const top = Math.max(0, ...utilization);
    if (top >= BUSY_UTILIZATION && f.queueDrops === 0) {
      out.push({
        rule: "worker-busy",
        message:
          `a worker was busy ${Math.round(top * 100)}% of the run: close to its limit; ` +
          `add workers if traffic grows (--workers ${f.workers + 1})`,
        figures: { busiestUtilizationPercent: Math.round(top * 100), workers: f.workers },
      });
    }
  }

  if (f.hostsEvicted > 0) {
    out.push({
      rule: "evictions",
      message:
        `${f.hostsEvicted} host states were evicted (max ${f.maxHosts} tracked): a returning host restarts ` +
        `its sequence tracking; raise --max-hosts or --host-idle if hosts come back`,
      figures: { hostsEvicted: f.hostsEvicted, maxHosts: f.maxHosts, hosts: f.hosts },
    });
  }

  if (f.incomplete > 0) {
    out.push({
      rule: "incomplete",
      message:
        `${f.incomplete} fragmented messages never completed: fragments were lost, or came later ` +
        `than --frag-timeout allows`,
      figures: { incomplete: f.incomplete },
    });
  }

  if (f.malformed > 0) {
    out.push({
      rule: "malformed",
      message: `${f.malformed} datagrams were malformed (${pct(f.malformed, f.received)}% of those processed): check the senders`,
      figures: { malformed: f.malformed, received: f.received },
    });
  }

  if (out.length === 0) {
    out.push({
      rule: "ok",
      message:
        `no drops: ${f.listeners} listener(s) and ${f.workers} worker(s) kept up with ` +
        `${f.datagramsRead} datagrams; the deepest queue was ${f.queueMaxDepth} of ${f.queueLimit}`,
      figures: {
        datagramsRead: f.datagramsRead,
        queueMaxDepth: f.queueMaxDepth,
        queueLimit: f.queueLimit,
      },
    });
  }
  return out;
}
