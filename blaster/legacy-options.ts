/**
 * The option names runBlast took before its options followed the flags (`ratePps`,
 * `durationMs`, `stormAtMs`, `truthFile`, `mainThread`), translated for callers that have not
 * moved to the flag names yet. Transitional: delete once no caller uses them.
 */
import type { BlastOptions } from "./options.ts";

export interface LegacyBlastNames {
  /** Now `rate`. */
  ratePps?: number;
  /** Now `duration` (ms here; `duration` takes "1500ms" or seconds). */
  durationMs?: number;
  /** Now `stormAt`. */
  stormAtMs?: number;
  /** Now `truth`. */
  truthFile?: string;
  /** Now runBlast's hooks.mainThread. */
  mainThread?: boolean;
}

/** The options under their flag names, and mainThread (null: not given). */
export function fromLegacyNames(options: BlastOptions & LegacyBlastNames): {
  options: BlastOptions;
  mainThread: boolean | null;
} {
  const { ratePps, durationMs, stormAtMs, truthFile, mainThread, ...rest } = options;
  const out: BlastOptions = { ...rest };
  if (ratePps !== undefined) out.rate ??= ratePps;
  if (durationMs !== undefined) out.duration ??= `${durationMs}ms`;
  if (stormAtMs !== undefined) out.stormAt ??= `${stormAtMs}ms`;
  if (truthFile !== undefined) out.truth ??= truthFile;
  return { options: out, mainThread: mainThread ?? null };
}
