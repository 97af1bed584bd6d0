/**
 * Blaster suite: the per-packet work of a blaster worker (blaster/shard.ts), without sockets:
 * MessageWriter.write of a host's next message into the slab (digits written in place, the
 * latency stamp, the corpus for realistic sizes), and ImpairmentPlan.offer deciding each
 * datagram's fate.
 */
import { type ContentOptions, NO_SYSDATA, type SizeSpec } from "../../../blaster/content.ts";
import { HostTable } from "../../../blaster/host-table.ts";
import { ImpairmentPlan } from "../../../blaster/impairments.ts";
import { datagramList, MessageWriter } from "../../../blaster/message-writer.ts";
import { monotonicUs } from "../../../blaster/stamp.ts";
import type { BenchTask, Suite } from "../suite.ts";

const HOSTS = 1000;
const SEED = 42;

function content(size: SizeSpec): ContentOptions {
  return {
    seed: SEED,
    hosts: HOSTS,
    format: "extended",
    size,
    stamp: true,
    releasePrefix: false,
    sysdata: NO_SYSDATA,
    userdata: [],
    caller: false,
    startSeq: 1000,
    stormShare: 0,
  };
}

/** One op = one message written for the next host (round-robin), as the shard loop does. */
function writeTask(name: string, note: string, size: SizeSpec, expectBytes?: number): BenchTask {
  const options = content(size);
  const hosts = new HostTable(options, 0, 1);
  const writer = new MessageWriter(options);
  const slab = Buffer.alloc(64 * 1024);
  const list = datagramList(64);
  let j = 0;
  const intendedUs = monotonicUs();
  const op = () => {
    list.count = 0;
    const end = writer.write(hosts, j, intendedUs, slab, 0, list);
    j = j + 1 === hosts.count ? 0 : j + 1;
    return end;
  };
  op();
  if (list.count < 1 || (expectBytes !== undefined && list.length[0] !== expectBytes)) {
    throw new Error(
      `${name}: the fixture wrote ${list.count} datagrams of ${list.length[0]} bytes`,
    );
  }
  return { name, note, op };
}

/** One op = one datagram offered to a plan with 1% loss, 1% duplication, 1% reordering. */
function impairmentTask(): BenchTask {
  let emitted = 0;
  const plan = new ImpairmentPlan(
    { seed: SEED, hosts: HOSTS, loss: 0.01, duplicate: 0.01, reorder: 0.01, reorderDepth: 3 },
    {
      emit: (_token, _host, copies) => {
        emitted += copies;
      },
      hold: () => {},
    },
  );
  const index = new Uint32Array(HOSTS);
  let host = 0;
  let token = 0;
  return {
    name: "impairment offer, 1% loss/dup/reorder",
    note: "ImpairmentPlan.offer of one single-datagram message, 1,000 hosts round-robin",
    op: () => {
      const i = index[host]++;
      plan.offer({
        host,
        index: i,
        seq: 1000 + i,
        fragment: 0,
        fragments: 1,
        tracked: true,
        token: token++,
      });
      host = host + 1 === HOSTS ? 0 : host + 1;
      return emitted;
    },
  };
}

export const blasterSuite: Suite = {
  name: "blaster",
  description: "MessageWriter.write per message and ImpairmentPlan.offer per datagram (no sockets)",
  tasks(): BenchTask[] {
    return [
      writeTask(
        "write extended 64 B, 1k hosts",
        "MessageWriter.write, fixed 64-byte stamped payloads",
        { kind: "fixed", bytes: 64 },
        64,
      ),
      writeTask(
        "write extended realistic, 1k hosts",
        "MessageWriter.write, corpus records (realistic sizes, some fragment)",
        { kind: "realistic" },
      ),
      impairmentTask(),
    ];
  },
};
