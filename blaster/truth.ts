/**
 * The truth file (`blast --truth FILE`), JSON Lines: its one line schema, writer, parser and
 * merge. The first line is `{"kind":"run",...}` (seed, target, totals); then one
 * `{"kind":"host",...}` line per host that sent, in host order, with the seqs of its impaired
 * datagrams as [seq, fragment] pairs.
 */
import { once } from "node:events";
import { createWriteStream, readFileSync } from "node:fs";
import { z } from "zod";

const counts = <K extends string>(keys: readonly K[]) =>
  z.strictObject(Object.fromEntries(keys.map((k) => [k, z.number()])) as Record<K, z.ZodNumber>);

const INJECTED = ["lost", "reordered", "duplicated"] as const;
const EXPECTED = ["messagesDelivered", "missing", "duplicates", "outOfOrder"] as const;

export const truthRunLineSchema = z.strictObject({
  kind: z.literal("run"),
  seed: z.number(),
  target: z.string(),
  hosts: z.number(),
  messages: z.number(),
  injected: counts(INJECTED),
  expected: counts(EXPECTED),
  /** The largest payload a receiver must accept (one netconsole chunk). */
  maxPayloadBytes: z.number(),
  /** Present when the file covers one shard of a load (`blast --shard I/N`). */
  shard: z.strictObject({ index: z.number(), count: z.number() }).optional(),
});

const seqs = z.array(z.tuple([z.number(), z.number()]));

export const truthHostLineSchema = z.strictObject({
  kind: z.literal("host"),
  host: z.number(),
  /** The address the host sent from, or null when the system chose it (`--sources shared`). */
  source: z.string().nullable(),
  format: z.enum(["extended", "legacy"]),
  firstSeq: z.number(),
  lastSeq: z.number(),
  messages: z.number(),
  datagrams: z.number(),
  storm: z.boolean(),
  lost: seqs,
  duplicated: seqs,
  reordered: seqs,
});

export const truthLineSchema = z.discriminatedUnion("kind", [
  truthRunLineSchema,
  truthHostLineSchema,
]);

export type TruthRunLine = z.infer<typeof truthRunLineSchema>;
export type TruthHostLine = z.infer<typeof truthHostLineSchema>;
export type TruthLine = z.infer<typeof truthLineSchema>;

export interface Truth {
  run: TruthRunLine;
  /** In host order. */
  hosts: TruthHostLine[];
}

/** One line of the file (without its newline). */
export function formatTruthLine(line: TruthLine): string {
  return JSON.stringify(line);
}

/** A truth file's text, checked line by line; errors name the line. */
export function parseTruth(text: string, name = "truth"): Truth {
  let run: TruthRunLine | null = null;
  const hosts: TruthHostLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(lines[i]);
    } catch {
      throw new Error(`${name} line ${i + 1} is not JSON`);
    }
    const parsed = truthLineSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(
        `${name} line ${i + 1}: ${issue.path.join(".") || "line"}: ${issue.message} (not a blast truth line)`,
      );
    }
    if (parsed.data.kind === "host") hosts.push(parsed.data);
    else if (run) throw new Error(`${name} line ${i + 1}: a second "run" line`);
    else run = parsed.data;
  }
  if (!run) throw new Error(`${name}: no "run" line (not a blast truth file)`);
  return { run, hosts };
}

export function readTruth(file: string): Truth {
  return parseTruth(readFileSync(file, "utf8"), file);
}

/** What a receiver needs to count edge losses: each extended host's source and seq range. */
export function extendedHosts(
  truth: Truth,
): { source: string; firstSeq: number; lastSeq: number }[] {
  const out: { source: string; firstSeq: number; lastSeq: number }[] = [];
  for (const h of truth.hosts) {
    if (h.format === "extended" && h.source !== null) {
      out.push({ source: h.source, firstSeq: h.firstSeq, lastSeq: h.lastSeq });
    }
  }
  return out;
}

/** Writes the run line, then the host lines, to `file`. */
export async function writeTruth(
  file: string,
  run: TruthRunLine,
  hosts: Iterable<TruthHostLine>,
): Promise<void> {
  const out = createWriteStream(file);
  const failed = once(out, "error").then(([error]) => {
    throw error;
  });
  failed.catch(() => {});
  const write = async (line: TruthLine) => {
    if (!out.write(`${formatTruthLine(line)}\n`)) await Promise.race([once(out, "drain"), failed]);
  };
  await write(run);
  for (const h of hosts) await write(h);
  out.end();
  await Promise.race([once(out, "finish"), failed]);
}

/**
 * The truth of a whole load from its shards' truths: the totals summed, the host lines
 * together in host order. Throws when they are not shards of one load (seeds, targets or host
 * counts differ, a shard is missing or given twice, hosts overlap).
 */
export function mergeTruths(parts: readonly { name: string; truth: Truth }[]): Truth {
  if (parts.length === 0) throw new Error("no truth files to merge");
  const [first] = parts;
  const base = first.truth.run;
  const count = base.shard?.count ?? 1;
  const seen = new Map<number, string>();
  for (const { name, truth } of parts) {
    const r = truth.run;
    for (const key of ["seed", "target", "hosts", "maxPayloadBytes"] as const) {
      if (r[key] !== base[key]) {
        throw new Error(
          `${name} and ${first.name} are not from one load: ${key} ${JSON.stringify(r[key])} vs ${JSON.stringify(base[key])}`,
        );
      }
    }
    if ((r.shard?.count ?? 1) !== count) {
      throw new Error(`${name} is shard of ${r.shard?.count ?? 1}, ${first.name} of ${count}`);
    }
    const index = r.shard?.index ?? 0;
    const twice = seen.get(index);
    if (twice !== undefined)
      throw new Error(`${name} and ${twice} are both shard ${index}/${count}`);
    seen.set(index, name);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length > 0) {
    throw new Error(
      `shard${missing.length > 1 ? "s" : ""} ${missing.join(", ")} of ${count} missing`,
    );
  }
  const sum = <K extends string>(
    keys: readonly K[],
    pick: (r: TruthRunLine) => Record<K, number>,
  ) =>
    Object.fromEntries(
      keys.map((k) => [k, parts.reduce((n, p) => n + pick(p.truth.run)[k], 0)]),
    ) as Record<K, number>;
  const { shard: _shard, ...rest } = base;
  const run: TruthRunLine = {
    ...rest,
    messages: parts.reduce((n, p) => n + p.truth.run.messages, 0),
    injected: sum(INJECTED, (r) => r.injected),
    expected: sum(EXPECTED, (r) => r.expected),
  };
  const hosts = parts.flatMap((p) => p.truth.hosts).sort((a, b) => a.host - b.host);
  for (let i = 1; i < hosts.length; i++) {
    if (hosts[i].host === hosts[i - 1].host) {
      throw new Error(`host ${hosts[i].host} is in two truth files: their shards overlap`);
    }
  }
  return { run, hosts };
}
