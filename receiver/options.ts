/**
 * The receiver's options, defined once: names (the camelCase of the `receive` command's long
 * flags), ranges, defaults and help text. startReceiver validates through it, the `receive`
 * command builds its flags from it, and a scenario's `target.options` is checked against it.
 *
 * Every value may also be given as the text a flag takes (`"64k"`, `"200ms"`), so a flag, an API
 * call and a scenario file accept the same forms. Durations are strings with a unit (`200ms`,
 * `5s`, `2m`, `1h`) or plain numbers of seconds, as everywhere else in the toolkit.
 */
import { isIP } from "node:net";
import { z } from "zod";
import {
  choice,
  definedOnly,
  duration,
  flagOf,
  formatIssues,
  integer,
} from "../blaster/option-values.ts";
import { DEFAULT_RING_BYTES } from "./ring.ts";
import { formatOutputSpec, type OutputSpec, parseOutputSpec } from "./sinks.ts";

const outputSpec: z.ZodType<OutputSpec> = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("none") }),
  z.strictObject({ kind: z.literal("print") }),
  z.strictObject({ kind: z.literal("jsonl"), file: z.string().min(1) }),
  z.strictObject({ kind: z.literal("dir"), path: z.string().min(1) }),
]);

const output = z.union([z.string(), outputSpec]).transform((v, ctx): OutputSpec => {
  if (typeof v !== "string") return v;
  try {
    return parseOutputSpec(v);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: `${(error as Error).message}, got ${v}` });
    return z.NEVER;
  }
});

const address = z.string().refine((v) => isIP(v) !== 0, "expected an IPv4 or IPv6 address");

const seqWindow = integer(32, 1 << 20).refine(
  (n) => n % 32 === 0,
  "expected a multiple of 32 from 32 to 1048576",
);

const ringBytes = integer(1024, 1 << 30).refine(
  (n) => (n & (n - 1)) === 0,
  "expected a power of two from 1024 up",
);

/** startReceiver's options (a scenario's `target.options`). */
export const receiverOptionsSchema = z.strictObject({
  listeners: integer(1, 64).default(1).describe("listener threads, one socket each"),
  workers: integer(1, 64).default(2).describe("worker threads (hosts hashed by address)"),
  bind: address.default("::").describe("listen address (:: is dual-stack)"),
  port: integer(0, 65535).default(1514).describe("UDP port (0 = any free port)"),
  rcvbuf: integer(0, 1 << 30)
    .default(0)
    .describe("SO_RCVBUF to ask for, 0 = system default (the granted size is reported)"),
  queueLimit: integer(1, 1 << 30)
    .default(65536)
    .describe("datagrams in flight per worker before drops"),
  msgTimeout: duration("ms", { zero: false })
    .default(200)
    .describe("give a sequence hole up after this long"),
  oosTimeout: duration("ms", { zero: false })
    .default(200)
    .describe("emit out-of-sequence messages after this long"),
  seqWindow: seqWindow.default(512).describe("sequence slots per host (multiple of 32)"),
  maxHosts: integer(1, 1e8)
    .default(1_000_000)
    .describe("hosts tracked at once; the least recently seen is evicted"),
  hostIdle: duration("ms", { zero: true })
    .default(0)
    .describe("evict a host silent this long, 0 = never"),
  maxMessageBytes: integer(1, 1 << 24)
    .default(8192)
    .describe("largest ncfrag total accepted"),
  fragTimeout: duration("ms", { zero: false })
    .default(5000)
    .describe("give an incomplete fragmented message up after this long"),
  batchDelay: duration("ms", { zero: true })
    .default(1)
    .describe(
      "under load only, the longest a native listener naps so that one read takes several datagrams (light traffic is handed over at once; capped at 0.5 ms; 0 = never)",
    ),
  ringBytes: ringBytes
    .default(DEFAULT_RING_BYTES)
    .describe("bytes of shared ring per listener and worker (a power of two)"),
  listener: choice(["auto", "native", "dgram"])
    .default("auto")
    .describe(
      "how listeners read: native (recvmmsg batches, needs the addon), dgram (Node, one event per datagram), auto = native where built",
    ),
  output: output
    .default({ kind: "none" })
    .describe("messages to none, print, jsonl:FILE or dir:PATH"),
  interval: duration("ms", { zero: false }).default(1000).describe("live line and NDJSON interval"),
});

/** runReceiver's options: startReceiver's and when to stop. */
export const receiverRunOptionsSchema = receiverOptionsSchema.extend({
  duration: duration("ms", { zero: true })
    .default(0)
    .describe("stop after this long, 0 = until Ctrl-C"),
  idleExit: duration("ms", { zero: true })
    .default(0)
    .describe("stop once nothing has arrived for this long (plain number = seconds), 0 = never"),
});

/** What callers pass (every key optional, flag text accepted). */
export type ReceiverOptions = z.input<typeof receiverOptionsSchema>;
export type RunOptions = z.input<typeof receiverRunOptionsSchema>;
/** After validation: defaults filled in, durations in ms, output parsed. */
export type ResolvedReceiverOptions = z.output<typeof receiverOptionsSchema>;
export type ResolvedRunOptions = z.output<typeof receiverRunOptionsSchema>;

/** A bad receiver option: the message names the key and the expected form. */
export class ReceiverOptionsError extends Error {
  override name = "ReceiverOptionsError";
}

/** Validates `options` (defaults filled in) or throws a ReceiverOptionsError naming the key. */
export function resolveReceiverOptions(options: RunOptions = {}): ResolvedRunOptions {
  const parsed = receiverRunOptionsSchema.safeParse(definedOnly(options));
  if (!parsed.success) {
    throw new ReceiverOptionsError(formatIssues(parsed.error, (key) => key, "receiver option"));
  }
  return parsed.data;
}

export { flagOf };

type RunKey = keyof typeof receiverRunOptionsSchema.shape;

/**
 * How each option looks on the command line: its short flag (the same in every command that has
 * one) and the name of its argument. Help text and default come from the schema.
 */
export const RECEIVER_FLAGS: Record<RunKey, { short?: string; arg: string }> = {
  listeners: { short: "l", arg: "n" },
  workers: { short: "w", arg: "n" },
  bind: { short: "b", arg: "address" },
  port: { short: "p", arg: "port" },
  rcvbuf: { arg: "bytes" },
  queueLimit: { arg: "n" },
  msgTimeout: { arg: "duration" },
  oosTimeout: { arg: "duration" },
  seqWindow: { arg: "n" },
  maxHosts: { arg: "n" },
  hostIdle: { arg: "duration" },
  maxMessageBytes: { arg: "n" },
  fragTimeout: { arg: "duration" },
  batchDelay: { arg: "duration" },
  ringBytes: { arg: "bytes" },
  listener: { arg: "kind" },
  output: { short: "o", arg: "sink" },
  interval: { arg: "duration" },
  duration: { short: "d", arg: "duration" },
  idleExit: { arg: "duration" },
};

/** A default as a user would type it: durations with a unit, the output spec as text. */
export function defaultText(key: RunKey, value: unknown): string {
  if (RECEIVER_FLAGS[key].arg === "duration") {
    const ms = value as number;
    if (ms === 0) return "0";
    return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
  }
  if (key === "output") return formatOutputSpec(value as OutputSpec);
  return String(value);
}
