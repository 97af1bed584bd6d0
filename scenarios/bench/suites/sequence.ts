/**
 * Sequence suite: SequenceTracker.observe() per completed message, for one host and for many
 * hosts (a map lookup by source address per message), in order and with reordering.
 */
import { SequenceTracker } from "../../../receiver/sequence.ts";
import type { BenchTask, Suite } from "../suite.ts";

/** Source-address keys as the receiver sees them. */
function hostKeys(count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  return out;
}

/**
 * Round-robin over `hosts`, each sending contiguous seqs; with `swapPairs` every two
 * consecutive seqs of a host arrive swapped (one message in two out of order, never a loss).
 */
function observeTask(name: string, note: string, hosts: number, swapPairs: boolean): BenchTask {
  const tracker = new SequenceTracker();
  const keys = hostKeys(hosts);
  const next = new Float64Array(hosts).fill(1000);
  let h = 0;
  let nowMs = 0;
  return {
    name,
    note,
    op: () => {
      const n = next[h]++;
      // swap n and n+1 for even n: 1001, 1000, 1003, 1002, ...
      const seq = swapPairs ? (n % 2 === 0 ? n + 1 : n - 1) : n;
      const outcome = tracker.observe(keys[h], seq, false, nowMs);
      h = h + 1 === hosts ? 0 : h + 1;
      nowMs += 0.001;
      return outcome;
    },
  };
}

export const sequenceSuite: Suite = {
  name: "sequence",
  description: "SequenceTracker.observe per message (ncrx semantics)",
  tasks(): BenchTask[] {
    return [
      observeTask("observe, 1 host, in order", "one host, contiguous seqs", 1, false),
      observeTask(
        "observe, 10k hosts, in order",
        "10,000 hosts round-robin, contiguous seqs per host",
        10_000,
        false,
      ),
      observeTask(
        "observe, 10k hosts, pairs swapped",
        "10,000 hosts round-robin, every 2 seqs of a host swapped (half out of order)",
        10_000,
        true,
      ),
    ];
  },
};
