/**
 * The blast report (`blast --json`, runBlast's result), defined once as a zod schema: the one
 * shape the blaster writes, `merge` reads and combines, and scenarios read.
 */
import { z } from "zod";
import { latencySummarySchema } from "../receiver/receiver-report.ts";

const expected = z.strictObject({
  messagesDelivered: z.number(),
  missing: z.number(),
  duplicates: z.number(),
  outOfOrder: z.number(),
});

const injected = z.strictObject({
  lost: z.number(),
  reordered: z.number(),
  duplicated: z.number(),
});

/**
 * What defines the traffic of a load, whatever shard or machine sends it: reports (and truth
 * files) only merge when their plans are equal.
 */
export const loadPlanSchema = z.strictObject({
  seed: z.number(),
  hosts: z.number(),
  format: z.string(),
  size: z.string(),
  stamp: z.boolean(),
  releasePrefix: z.boolean(),
  sysdata: z.array(z.string()),
  userdata: z.array(z.tuple([z.string(), z.string()])),
  caller: z.boolean(),
  startSeq: z.union([z.number(), z.literal("random")]),
  ratePps: z.number(),
  ramp: z.tuple([z.number(), z.number()]).nullable(),
  burst: z.number(),
  durationMs: z.number(),
  count: z.number().nullable(),
  loss: z.number(),
  reorder: z.number(),
  reorderDepth: z.number(),
  duplicate: z.number(),
  storm: z.number(),
  stormAtMs: z.number().nullable(),
  sources: z.string(),
  shards: z.number(),
  startAtMs: z.number().nullable(),
});
export type LoadPlan = z.infer<typeof loadPlanSchema>;

export const blastReportSchema = z.strictObject({
  kind: z.literal("blast"),
  target: z.string(),
  transport: z.string(),
  sources: z.strictObject({
    kind: z.string(),
    prefix: z.string().nullable(),
    first: z.string().nullable(),
    last: z.string().nullable(),
  }),
  seed: z.number(),
  /** All hosts of the load (every shard's together). */
  hosts: z.number(),
  /** The load's plan: what must agree for reports to merge. */
  plan: loadPlanSchema,
  /** The shards this report covers: [I] for `--shard I/N`, all of them once merged. */
  shards: z.strictObject({ count: z.number(), included: z.array(z.number()) }),
  /** Sending threads (summed over merged reports). */
  workers: z.number(),
  /** The hosts were sent from the calling thread, not a worker (every merged report's). */
  mainThread: z.boolean(),
  format: z.string(),
  size: z.string(),
  stamp: z.boolean(),
  messages: z.number(),
  messagesExtended: z.number(),
  messagesLegacy: z.number(),
  stormMessages: z.number(),
  datagrams: z.number(),
  packets: z.strictObject({
    sent: z.number(),
    errors: z.number(),
    bytes: z.number(),
    errorsByCode: z.record(z.string(), z.number()),
  }),
  fragmentsSent: z.number(),
  /**
   * UDP GSO (--gso; udp-batch only): the mode asked for, whether any sending thread used it,
   * GSO sends made and the datagrams they carried (sends < datagrams when segments joined).
   */
  gso: z.strictObject({
    mode: z.enum(["auto", "on", "off"]),
    used: z.boolean(),
    sends: z.number(),
    datagrams: z.number(),
  }),
  socketsOpened: z.number(),
  icmpErrors: z.number(),
  injected,
  impairments: z.strictObject({
    loss: z.number(),
    reorder: z.number(),
    reorderDepth: z.number(),
    duplicate: z.number(),
  }),
  /** What a perfect receiver finds (extended messages). */
  expected,
  rate: z.strictObject({
    /** What this report's shards were asked to send (a ramp: its average). */
    targetPps: z.number(),
    achievedPps: z.number(),
    ramp: z.tuple([z.number(), z.number()]).nullable(),
    burst: z.number(),
  }),
  latenessUs: latencySummarySchema.nullable(),
  /** The lateness histogram, HdrHistogram compressed base64 (µs; null unpaced): merges exactly. */
  latenessHistogram: z.string().nullable(),
  /** The common start (`--start-at`, epoch ms, or null) and how late this report's start was. */
  start: z.strictObject({ atMs: z.number().nullable(), lateUs: z.number() }),
  /** CPU time of the send loops, and per packet sent (µs). */
  cpu: z.strictObject({ workerUs: z.number(), usPerPacket: z.number() }),
  durationMs: z.number(),
  stopped: z.enum(["count", "duration", "signal", "hosts"]),
  notes: z.array(z.string()),
  truthFile: z.string().nullable(),
});

export type BlastReport = z.infer<typeof blastReportSchema>;
