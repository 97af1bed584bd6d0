/**
 * Validation of command-line values. Every parser names the flag and the expected form in its
 * error, and the CLI turns a UsageError into a one-line message and exit code 2.
 */
import { InvalidArgumentError } from "commander";

/** Exit codes shared by every command (documented in the README). */
export const EXIT = {
  ok: 0,
  /** The run itself failed (could not bind, a worker crashed, ...). */
  failure: 1,
  /** Bad input: a malformed flag, scenario file or option value. */
  usage: 2,
  /** Interrupted by SIGINT/SIGTERM (the report was still written). */
  interrupted: 130,
  /** A scenario threshold or benchmark regression failed. */
  thresholds: 99,
} as const;

/** A user mistake: printed as one line, no stack trace, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Stack traces wanted: `--debug` (the CLI turns it into NCB_DEBUG=1) or NCB_DEBUG=1. */
export function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NCB_DEBUG !== undefined && env.NCB_DEBUG !== "" && env.NCB_DEBUG !== "0";
}

/** A message's lines joined into one (blank lines dropped). */
export function oneLine(text: string, separator = " "): string {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .join(separator);
}

/**
 * How an error is shown on stderr: one line `netcons-bench: message` (a multi-line message is
 * joined with "; "), then the stack when debugging. `context` prefixes the message
 * (e.g. "blast failed").
 */
export function errorLine(error: unknown, context?: string): string {
  const message = oneLine(error instanceof Error ? error.message : String(error), "; ");
  const line = `netcons-bench: ${context === undefined ? "" : `${context}: `}${message}\n`;
  return debugEnabled() && error instanceof Error && error.stack ? `${line}${error.stack}\n` : line;
}

function fail(flag: string, value: string, expected: string): never {
  // commander prefixes "error: option '<flag>' argument '<value>' is invalid." itself when the
  // parser throws InvalidArgumentError, so only the expected form is said here.
  void flag;
  void value;
  throw new InvalidArgumentError(`expected ${expected}.`);
}

/** An integer in [min, max]; accepts `_` separators and k/m suffixes (`100k`, `1m`). */
export function integerOption(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = parseScaled(value);
    if (n === null || !Number.isInteger(n) || n < min || n > max) {
      fail(flag, value, `an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** A non-negative number (k/m suffixes allowed). */
export function numberOption(flag: string, min = 0, max = Number.MAX_VALUE) {
  return (value: string): number => {
    const n = parseScaled(value);
    if (n === null || n < min || n > max) fail(flag, value, `a number from ${min} to ${max}`);
    return n;
  };
}

/** A probability: `0.01`, `1%`. */
export function probabilityOption(flag: string) {
  return (value: string): number => {
    const trimmed = value.trim();
    const percent = trimmed.endsWith("%");
    const n = Number(percent ? trimmed.slice(0, -1) : trimmed);
    const p = percent ? n / 100 : n;
    if (trimmed === "" || !Number.isFinite(p) || p < 0 || p > 1) {
      fail(flag, value, "a probability from 0 to 1 (or 0% to 100%)");
    }
    return p;
  };
}

/** A duration: `10s`, `500ms`, `2m`, `1h`, or a plain number of seconds. Returns ms. */
export function durationOption(flag: string) {
  return (value: string): number => {
    const ms = parseDurationMs(value);
    if (ms === null) fail(flag, value, "a duration such as 500ms, 10s, 2m or 1h");
    return ms;
  };
}

/** One of a fixed set of words. */
export function choiceOption<T extends string>(flag: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value))
      fail(flag, value, `one of ${choices.join(", ")}`);
    return value as T;
  };
}

/** `FROM:TO` pair of non-negative numbers (k/m suffixes allowed). */
export function pairOption(flag: string) {
  return (value: string): [number, number] => {
    const parts = value.split(":");
    const a = parts.length === 2 ? parseScaled(parts[0]) : null;
    const b = parts.length === 2 ? parseScaled(parts[1]) : null;
    if (a === null || b === null || a < 0 || b < 0)
      fail(flag, value, "FROM:TO, two non-negative numbers");
    return [a, b];
  };
}

export function parseDurationMs(value: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const factor = unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

/** `12`, `1_000`, `2.5k`, `1m` (million) -> number, or null. */
export function parseScaled(value: string): number | null {
  const m = /^\s*(-?\d[\d_]*(?:\.\d+)?)\s*([kKmM]?)\s*$/.exec(value);
  if (!m) return null;
  const n = Number(m[1].replaceAll("_", ""));
  const factor = m[2] === "" ? 1 : m[2].toLowerCase() === "k" ? 1e3 : 1e6;
  const out = n * factor;
  return Number.isFinite(out) ? Math.round(out * 1e6) / 1e6 : null;
}
