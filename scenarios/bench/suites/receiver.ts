/**
 * Receiver suite: a receiver worker's per-datagram path (receiver/core.ts WorkerCore.handle:
 * decode, reassemble, sequence tracking, three HDR recordings, the sink), fed directly without
 * sockets or threads, for 1,000 hosts round-robin with contiguous seqs per host. Each datagram
 * is handed over as the ring holds it: the address text's bytes, then the payload, in one buffer.
 */
import { encodeExtended, encodeLegacy } from "../../../blaster/codec.ts";
import { formatStamp } from "../../../blaster/stamp.ts";
import { WorkerCore } from "../../../receiver/core.ts";
import { createSink } from "../../../receiver/sinks.ts";
import type { BenchTask, Suite } from "../suite.ts";
import { largeRecord, recordOfPayloadSize } from "./codec.ts";

const HOSTS = 1000;
/** Seqs are written in place as 7 digits, so every payload keeps its length. */
const FIRST_SEQ = 1_000_000;
const STAMP_US = 987_654_321_000;

/** Where the seq digits are in an extended payload: between the first and second comma. */
function seqField(payload: Buffer): { start: number; width: number } {
  const start = payload.indexOf(0x2c) + 1;
  const end = payload.indexOf(0x2c, start);
  return { start, width: end - start };
}

function writeSeq(payload: Buffer, start: number, width: number, seq: number): void {
  let n = seq;
  for (let k = start + width - 1; k >= start; k--) {
    payload[k] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
}

function source(i: number): string {
  return `::ffff:127.0.${i >> 8}.${(i & 255) + 1}`;
}

/** One host's copy of a payload, laid out as a ring record: address bytes, then the payload. */
interface Record {
  buf: Buffer;
  addrLen: number;
  /** Where the seq digits are in buf. */
  seqAt: number;
  seqWidth: number;
  length: number;
}

function records(payloads: Buffer[], host: number): Record[] {
  const address = Buffer.from(source(host), "latin1");
  return payloads.map((p) => {
    const buf = Buffer.concat([address, p]);
    const { start, width } = seqField(p);
    return {
      buf,
      addrLen: address.length,
      seqAt: address.length + start,
      seqWidth: width,
      length: p.length,
    };
  });
}

/**
 * One op = one message through WorkerCore.handle (every datagram of it), host after host.
 * `expect` names the counter each op must raise by one: checked once before timing, so a broken
 * fixture cannot benchmark the malformed path by mistake.
 */
function handleTask(
  name: string,
  note: string,
  payloads: Buffer[],
  extended: boolean,
  expect: "extended" | "legacy",
): BenchTask {
  const core = new WorkerCore({}, createSink({ kind: "none" }, -1));
  const hosts = Array.from({ length: HOSTS }, (_, i) => records(payloads, i));
  const next = new Float64Array(HOSTS).fill(FIRST_SEQ);
  let h = 0;
  let nowUs = STAMP_US + 100;
  const op = () => {
    const seq = next[h]++;
    const host = hosts[h];
    for (let k = 0; k < host.length; k++) {
      const r = host[k];
      if (extended) writeSeq(r.buf, r.seqAt, r.seqWidth, seq);
      core.handle(r.buf, 0, r.addrLen, r.addrLen, r.length, nowUs - 5, nowUs);
    }
    h = h + 1 === HOSTS ? 0 : h + 1;
    nowUs += 1;
    return core.counters.datagrams;
  };
  op();
  if (core.counters[expect] !== 1 || core.counters.malformed !== 0) {
    throw new Error(`${name}: the fixture did not produce one ${expect} message`);
  }
  return { name, note, op };
}

export const receiverSuite: Suite = {
  name: "receiver",
  description: "WorkerCore.handle per message (decode, reassemble, sequence, HDR, no-op sink)",
  tasks(): BenchTask[] {
    const small = encodeExtended({ ...recordOfPayloadSize(64), seq: FIRST_SEQ });
    const large = encodeExtended({ ...largeRecord(), seq: FIRST_SEQ });
    const legacy = encodeLegacy(
      `${formatStamp(3, STAMP_US)}e1000e 0000:00:19.0 eth0: NIC Link is Up`,
      {
        tsUs: 123_456_789,
      },
    );
    return [
      handleTask(
        "handle extended 64 B, 1k hosts",
        "WorkerCore.handle of a stamped 64-byte payload; 1,000 hosts round-robin",
        small,
        true,
        "extended",
      ),
      handleTask(
        `handle extended 1200 B (${large.length} fragments), 1k hosts`,
        "WorkerCore.handle of each fragment; one op = one message reassembled",
        large,
        true,
        "extended",
      ),
      handleTask(
        `handle legacy ${legacy[0].length} B, 1k hosts`,
        "WorkerCore.handle of a stamped legacy line",
        legacy,
        false,
        "legacy",
      ),
    ];
  },
};
