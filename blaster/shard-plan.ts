/**
 * Which hosts, messages and rate each shard of a load owns: pure arithmetic, the same for the
 * worker threads of one process and for the processes of a scaled-out load.
 *
 * Host h belongs to shard h % S of S shards. A load split into N processes (`--shard I/N`)
 * whose processes each run W threads is S = N x W shards: thread w of process I sends shard
 * I + N x w, so a process owns exactly the hosts h % N == I and its threads split those. Each
 * host's traffic depends only on the seed and the host, and a --count is divided per host
 * (host h sends floor(count / hosts) messages, one more when h < count % hosts), so the union
 * of any split's traffic is the one-process traffic.
 */

/** Shard `index` of `count` (0 <= index < count). */
export interface ShardSlice {
  index: number;
  count: number;
}

export const WHOLE: ShardSlice = { index: 0, count: 1 };

/** `I/N` -> { index: I, count: N }, or null when the text is not of that form. */
export function parseShard(text: string): ShardSlice | null {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  return m ? { index: Number(m[1]), count: Number(m[2]) } : null;
}

/** How many of hosts 0..hosts-1 belong to shard s of `shards` (those with h % shards == s). */
export function hostsOfShard(hosts: number, shards: number, s: number): number {
  return Math.max(0, Math.ceil((hosts - s) / shards));
}

/**
 * Shard s's part of `total` messages: the sum of its hosts' parts, where host h sends
 * floor(total / hosts), plus one when h < total % hosts. The parts of all shards add up to
 * `total` exactly, and sending them round-robin over the shard's hosts in ascending order gives
 * every host its own part, whatever the number of shards.
 */
export function messagesOfShard(total: number, hosts: number, shards: number, s: number): number {
  const each = Math.floor(total / hosts);
  return hostsOfShard(hosts, shards, s) * each + hostsOfShard(total % hosts, shards, s);
}

/** The thread shards of process `slice` with `workers` threads: global index and total. */
export function threadShards(slice: ShardSlice, workers: number): ShardSlice[] {
  return Array.from({ length: workers }, (_, w) => ({
    index: slice.index + slice.count * w,
    count: slice.count * workers,
  }));
}

/** Share of a load (rate, ramp) that shard s of `shards` sends: in proportion to its hosts. */
export function shareOfShard(hosts: number, shards: number, s: number): number {
  return hostsOfShard(hosts, shards, s) / hosts;
}

/** Environment variable Kubernetes sets in each pod of an Indexed Job: the pod's index. */
export const INDEX_ENV = "JOB_COMPLETION_INDEX";
/** Environment variable that gives the number of shards when the index comes from INDEX_ENV. */
export const SHARDS_ENV = "NCB_SHARDS";

/**
 * The shard a process sends when `--shard` is not given, as `I/N` text (validated like the
 * flag): I from INDEX_ENV, N from the `--shards` flag or SHARDS_ENV. Null when INDEX_ENV is
 * absent (the whole load); an error when N is missing.
 */
export function shardFromEnvironment(
  env: Record<string, string | undefined>,
  shards: string | undefined,
): { shard: string } | { error: string } | null {
  const index = env[INDEX_ENV]?.trim();
  if (!index) return null;
  const count = (shards ?? env[SHARDS_ENV])?.trim();
  if (!count) {
    return {
      error: `${INDEX_ENV}=${index} is set: give the number of shards with --shards N or ${SHARDS_ENV}=N`,
    };
  }
  return { shard: `${index}/${count}` };
}
