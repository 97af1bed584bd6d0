/**
 * Codec suite: encode and decode of the payloads the toolkit sends and receives most: a 64-byte
 * extended record (netconsblaster's size), a 1,200-byte record that fragments into two `ncfrag`
 * payloads, and a legacy line.
 */
import { encodeExtended, encodeLegacy, type KernelRecord } from "../../../blaster/codec.ts";
import { formatStamp } from "../../../blaster/stamp.ts";
import { DatagramView, decodeInto, decodePayload } from "../../../receiver/decode.ts";
import type { BenchTask, Suite } from "../suite.ts";

/** netconsblaster's payload size; the codec's speed targets (>= 1M/s each way) are for it. */
export const SMALL_PAYLOAD_BYTES = 64;
const LARGE_TEXT_BYTES = 1200;

/** A record like the blaster's: latency stamp, then filler, sized so its payload is exactly `bytes`. */
export function recordOfPayloadSize(bytes: number): KernelRecord {
  const record: KernelRecord = {
    facility: 0,
    level: 6,
    seq: 1_000_000,
    tsUs: 123_456_789,
    text: "",
  };
  const stamp = formatStamp(3, 987_654_321_000);
  const base = encodeExtended({ ...record, text: stamp })[0].length;
  record.text = stamp + "x".repeat(bytes - base);
  const actual = encodeExtended(record)[0].length;
  if (actual !== bytes) throw new Error(`fixture: wanted a ${bytes}-byte payload, got ${actual}`);
  return record;
}

/** A record whose text alone is `textBytes` long, so it needs `ncfrag` fragments. */
export function largeRecord(textBytes = LARGE_TEXT_BYTES): KernelRecord {
  const stamp = formatStamp(3, 987_654_321_000);
  let text = stamp;
  // printable words, as a long kernel line (a stack dump, an OOM report) would have
  for (let i = 0; text.length < textBytes; i++) text += `word${i} `;
  return {
    facility: 0,
    level: 4,
    seq: 2_000_000,
    tsUs: 223_456_789,
    text: text.slice(0, textBytes),
    dict: [
      ["SUBSYSTEM", "net"],
      ["DEVICE", "n2"],
    ],
  };
}

const LEGACY_LINE = `${formatStamp(3, 987_654_321_000)}e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex`;

export const codecSuite: Suite = {
  name: "codec",
  description:
    "encodeExtended / encodeLegacy / decodePayload (and decodeInto) on 64 B, 1,200 B (2 fragments) and legacy payloads",
  tasks(): BenchTask[] {
    const small = recordOfPayloadSize(SMALL_PAYLOAD_BYTES);
    const smallPayload = encodeExtended(small)[0];
    const large = largeRecord();
    const largePayloads = encodeExtended(large);
    if (largePayloads.length < 2) throw new Error("fixture: the large record did not fragment");
    const legacyPayload = encodeLegacy(LEGACY_LINE, { tsUs: 123_456_789 })[0];
    // encode: the seq moves on per operation, as in the blaster; it wraps before it gains a
    // digit so the payload stays 64 bytes.
    let seq = small.seq;
    const view = new DatagramView();
    return [
      {
        name: "encode extended 64 B",
        note: "encodeExtended of a record whose payload is 64 bytes",
        op: () => {
          small.seq = seq++;
          if (seq > 9_999_999) seq = 1_000_000;
          return encodeExtended(small);
        },
      },
      {
        name: "decode extended 64 B",
        note: "decodePayload of a 64-byte extended payload",
        op: () => decodePayload(smallPayload),
      },
      {
        name: "decode extended 64 B into a reused view",
        note: "decodeInto (the receiver's path): header fields and positions, no text, no allocation",
        op: () => decodeInto(view, smallPayload, 0, smallPayload.length),
      },
      {
        name: `encode extended ${LARGE_TEXT_BYTES} B (${largePayloads.length} fragments)`,
        note: `encodeExtended of a ${LARGE_TEXT_BYTES}-byte text with 2 dict lines`,
        op: () => encodeExtended(large),
      },
      {
        name: `decode extended ${LARGE_TEXT_BYTES} B (${largePayloads.length} fragments)`,
        note: "decodePayload of every fragment of one message (one op = the whole message)",
        op: () => {
          let bytes = 0;
          for (const payload of largePayloads) {
            const d = decodePayload(payload);
            if (d.kind === "extended") bytes += d.data.length;
          }
          return bytes;
        },
      },
      {
        name: `encode legacy ${legacyPayload.length} B`,
        note: "encodeLegacy with a printk time prefix",
        op: () => encodeLegacy(LEGACY_LINE, { tsUs: 123_456_789 }),
      },
      {
        name: `decode legacy ${legacyPayload.length} B`,
        note: "decodePayload classifying a legacy line",
        op: () => decodePayload(legacyPayload),
      },
    ];
  },
};
