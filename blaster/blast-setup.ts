/**
 * From validated options to the tasks of a run: resolves the target, chooses the source
 * addresses, checks that the transport can work here, and gives each sending thread its task
 * (its shard of the hosts, its share of the rate and count). Nothing is sent.
 */
import type { LoadPlan } from "./blast-report.ts";
import { NO_SYSDATA } from "./content.ts";
import { impairmentsActive } from "./impairments.ts";
import {
  BlastOptionsError,
  DEFAULT_DURATION_MS,
  describeSize,
  type ResolvedBlastOptions,
} from "./options.ts";
import type { ShardTask } from "./shard.ts";
import {
  hostsOfShard,
  messagesOfShard,
  type ShardSlice,
  shareOfShard,
  threadShards,
  WHOLE,
} from "./shard-plan.ts";
import {
  chooseSources,
  formatEndpoint,
  isLoopbackEndpoint,
  parseTarget,
  resolveTarget,
} from "./sources.ts";
import { loadTransport, type TransportOptions } from "./transport.ts";

/** A thread's task, before the run's shared memory exists. */
export type ThreadTask = Omit<ShardTask, "shared"> & { pacingQuantumUs: number };

export interface BlastSetup {
  options: ResolvedBlastOptions;
  /** This process's slice of the load (the whole load: 0/1). */
  slice: ShardSlice;
  /** One task per sending thread. */
  threads: ThreadTask[];
  /** Run time limit (ms, 0 = none) and total messages (-1 = no limit) of the whole load. */
  durationMs: number;
  count: number;
  plan: LoadPlan;
  targetText: string;
  sources: TransportOptions["sources"];
  notes: string[];
}

function fail(message: string): never {
  throw new BlastOptionsError(message);
}

/** The plan every shard of this load shares (what `merge` compares). */
function loadPlan(o: ResolvedBlastOptions, durationMs: number, slice: ShardSlice): LoadPlan {
  return {
    seed: o.seed ?? 0,
    hosts: o.hosts,
    format: o.format,
    size: describeSize(o.size),
    stamp: o.stamp,
    releasePrefix: o.releasePrefix,
    sysdata: Object.entries(o.sysdata)
      .filter(([, on]) => on)
      .map(([name]) => name),
    userdata: o.userdata,
    caller: o.caller,
    startSeq: o.startSeq,
    ratePps: o.rate,
    ramp: o.ramp ?? null,
    burst: o.burst,
    durationMs,
    count: o.count ?? null,
    loss: o.loss,
    reorder: o.reorder,
    reorderDepth: o.reorderDepth,
    duplicate: o.duplicate,
    storm: o.storm,
    stormAtMs: o.stormAt ?? null,
    sources: o.sources,
    shards: slice.count,
    startAtMs: o.startAt ?? null,
  };
}

/** `options` must carry a seed (runBlast picks one first when none is given). */
export async function setUpBlast(
  options: ResolvedBlastOptions & { seed: number },
): Promise<BlastSetup> {
  const o = options;
  const notes: string[] = [];
  const slice = o.shard ?? WHOLE;
  const count = o.count ?? -1;
  const durationMs = o.duration ?? (o.count === undefined ? DEFAULT_DURATION_MS : 0);

  const parsed = parseTarget(o.target);
  if (!parsed)
    fail(`--target "${o.target}" must look like [::1]:1514, 127.0.0.1:1514 or host:port`);
  let target: Awaited<ReturnType<typeof resolveTarget>>;
  try {
    target = await resolveTarget(parsed);
  } catch (error) {
    fail(
      `--target ${o.target}: cannot resolve ${parsed.host} (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  }
  if (!isLoopbackEndpoint(target) && !o.allowRemote) {
    fail(
      `target ${formatEndpoint(target)} is not a loopback address; pass --allow-remote to send traffic there`,
    );
  }
  let choice: ReturnType<typeof chooseSources>;
  try {
    choice = chooseSources(o.sources, target, o.hosts);
  } catch (error) {
    fail((error as Error).message);
  }
  if (choice.note) notes.push(choice.note);

  const shards = threadShards(slice, o.workers);
  const mine = hostsOfShard(o.hosts, slice.count, slice.index);
  const sending =
    count >= 0 ? hostsOfShard(Math.min(o.hosts, count), slice.count, slice.index) : mine;
  const transportOptions: TransportOptions = {
    target: choice.target,
    sources: choice.plan,
    hosts: o.hosts,
    shardHosts: hostsOfShard(o.hosts, shards[0].count, shards[0].index),
    activeHosts: sending,
    allowRemote: o.allowRemote,
    gso: o.gso,
  };
  const transport = await loadTransport(o.transport);
  const problem = await transport.check(transportOptions);
  if (problem) fail(problem);

  let stormAtMs = -1;
  if (o.storm > 0) stormAtMs = o.stormAt ?? (durationMs > 0 ? Math.floor(durationMs / 2) : 0);
  const active = impairmentsActive({ loss: o.loss, duplicate: o.duplicate, reorder: o.reorder });
  const truth = o.truth !== undefined;
  const threads = shards.map((s): ThreadTask => {
    // Rates are shared in proportion to hosts, so every host sends at the same pace.
    const part = shareOfShard(o.hosts, s.count, s.index);
    return {
      shard: s.index,
      shards: s.count,
      content: {
        seed: o.seed,
        hosts: o.hosts,
        format: o.format,
        size: o.size,
        stamp: o.stamp,
        releasePrefix: o.releasePrefix,
        sysdata: { ...NO_SYSDATA, ...o.sysdata },
        userdata: o.userdata,
        caller: o.caller,
        startSeq: o.startSeq,
        stormShare: o.storm,
      },
      transport: o.transport,
      transportOptions,
      schedule: {
        ratePps: o.rate * part,
        ramp: o.ramp
          ? { fromPps: o.ramp[0] * part, toPps: o.ramp[1] * part, overUs: durationMs * 1000 }
          : undefined,
        burst: o.burst,
      },
      maxMessages: count < 0 ? -1 : messagesOfShard(count, o.hosts, s.count, s.index),
      durationMs,
      impairments: active
        ? {
            seed: o.seed,
            hosts: o.hosts,
            loss: o.loss,
            duplicate: o.duplicate,
            reorder: o.reorder,
            reorderDepth: o.reorderDepth,
            recordEvents: truth,
          }
        : null,
      stormAtMs,
      truth,
      batch: o.batch,
      pacingQuantumUs: o.pacingQuantum,
      gso: o.gso,
    };
  });
  return {
    options: o,
    slice,
    threads,
    durationMs,
    count,
    plan: loadPlan(o, durationMs, slice),
    targetText: formatEndpoint(choice.target),
    sources: choice.plan,
    notes,
  };
}
