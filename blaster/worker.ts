/**
 * The piscina worker entry: each task is one shard of the hosts (see blaster/shard.ts).
 */
import { runShard, type ShardResult, type ShardTask } from "./shard.ts";

export default function blastShard(task: ShardTask): Promise<ShardResult> {
  return runShard(task);
}
