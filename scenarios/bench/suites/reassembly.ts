/**
 * Reassembly suite: the Reassembler completing 1,200-byte messages from their two `ncfrag`
 * fragments, in order and reversed, alone and together with decoding (the receiver's work for
 * a fragmented message).
 */
import { encodeExtended } from "../../../blaster/codec.ts";
import { type DecodedExtended, decodePayload } from "../../../receiver/decode.ts";
import { Reassembler } from "../../../receiver/reassembly.ts";
import type { BenchTask, Suite } from "../suite.ts";
import { largeRecord } from "./codec.ts";

/**
 * Distinct seqs cycled through: more than the Reassembler remembers as completed (32 by
 * default), so a seq coming round again is a new message, not a duplicate fragment.
 */
const SEQS = 256;

function fixtures(): { payloads: Buffer[][]; fragments: DecodedExtended[][] } {
  const record = largeRecord();
  const payloads: Buffer[][] = [];
  const fragments: DecodedExtended[][] = [];
  for (let i = 0; i < SEQS; i++) {
    const encoded = encodeExtended({ ...record, seq: record.seq + i });
    payloads.push(encoded);
    fragments.push(
      encoded.map((p) => {
        const d = decodePayload(p);
        if (d.kind !== "extended" || !d.fragment) throw new Error("fixture: not a fragment");
        return d;
      }),
    );
  }
  return { payloads, fragments };
}

/** One op = one message completed; throws if a message does not complete (a broken fixture). */
function completeTask(
  name: string,
  note: string,
  feed: (r: Reassembler, i: number, nowMs: number) => DecodedExtended | null,
): BenchTask {
  const reassembler = new Reassembler();
  let i = 0;
  let nowMs = 0;
  return {
    name,
    note,
    op: () => {
      const done = feed(reassembler, i, nowMs);
      if (done === null) throw new Error(`${name}: the message did not complete`);
      i = (i + 1) % SEQS;
      nowMs += 0.001;
      return done.data.length;
    },
  };
}

export const reassemblySuite: Suite = {
  name: "reassembly",
  description: "Reassembler.add completing 1,200-byte messages from 2 fragments",
  tasks(): BenchTask[] {
    const { payloads, fragments } = fixtures();
    return [
      completeTask(
        "add 2 fragments, in order",
        "Reassembler.add of pre-decoded fragments; one op = one message completed",
        (r, i, now) => {
          const f = fragments[i];
          let done: DecodedExtended | null = null;
          for (let k = 0; k < f.length; k++) done = r.add("10.0.0.1", f[k], now);
          return done;
        },
      ),
      completeTask(
        "add 2 fragments, reversed",
        "Reassembler.add, last fragment first; one op = one message completed",
        (r, i, now) => {
          const f = fragments[i];
          let done: DecodedExtended | null = null;
          for (let k = f.length - 1; k >= 0; k--) done = r.add("10.0.0.1", f[k], now);
          return done;
        },
      ),
      completeTask(
        "decode + add 2 fragments",
        "decodePayload then Reassembler.add per fragment; one op = one message completed",
        (r, i, now) => {
          const p = payloads[i];
          let done: DecodedExtended | null = null;
          for (let k = 0; k < p.length; k++) {
            const d = decodePayload(p[k]);
            if (d.kind === "extended") done = r.add("10.0.0.1", d, now);
          }
          return done;
        },
      ),
    ];
  },
};
