/**
 * Zod value types for option schemas: each accepts a value as an API call or a scenario file
 * gives it (a number) and as a flag gives it (its text: `64k`, `1%`, `200ms`), and says in its
 * error what it expected and what it got.
 */
import { z } from "zod";
import { parseScaled } from "../scenarios/options.ts";

const text = z.union([z.number(), z.string()]);

function got(v: unknown): string {
  return JSON.stringify(v);
}

/** A number in [min, max] (k/m suffixes in text); `whole`: an integer. */
function bounded(min: number, max: number, whole: boolean) {
  const kind = whole ? "an integer" : "a number";
  return text.transform((v, ctx) => {
    const n = typeof v === "number" ? v : parseScaled(v);
    if (
      n === null ||
      !Number.isFinite(n) ||
      (whole && !Number.isInteger(n)) ||
      n < min ||
      n > max
    ) {
      ctx.addIssue({
        code: "custom",
        message: `expected ${kind} from ${min} to ${max}, got ${got(v)}`,
      });
      return z.NEVER;
    }
    return n;
  });
}

/** An integer in [min, max] (`_` separators and k/m suffixes in text). */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return bounded(min, max, true);
}

/** A number in [min, max] (k/m suffixes in text). */
export function decimal(min: number, max: number) {
  return bounded(min, max, false);
}

/** A probability: `0.01` or `1%`. */
export const probability = text.transform((v, ctx) => {
  const t = typeof v === "string" ? v.trim() : "";
  const p = typeof v === "number" ? v : t.endsWith("%") ? Number(t.slice(0, -1)) / 100 : Number(t);
  if (!(p >= 0 && p <= 1) || t === "%" || (typeof v === "string" && t === "")) {
    ctx.addIssue({
      code: "custom",
      message: `expected a probability from 0 to 1 (or 0% to 100%), got ${got(v)}`,
    });
    return z.NEVER;
  }
  return p;
});

const UNIT_US: Record<string, number> = {
  us: 1,
  µs: 1,
  ms: 1000,
  s: 1e6,
  m: 60e6,
  h: 3600e6,
};

/**
 * A duration in µs: `200us` (or `200µs`), `500ms`, `10s`, `2m`, `1h`, or a plain number of
 * seconds (as every duration flag of the toolkit takes). Null when it is not one.
 */
export function parseDurationUs(value: string | number): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value * 1e6 : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|h)?\s*$/.exec(value);
  if (!m) return null;
  return Number(m[1]) * UNIT_US[m[2] ?? "s"];
}

/** A duration, resolved to whole `unit`s (ms or µs), from `zero` (0 allowed) up to `max`. */
export function duration(unit: "ms" | "us", options: { zero: boolean; max?: number }) {
  const per = unit === "ms" ? 1000 : 1;
  const units = unit === "ms" ? "500ms, 10s or 2m" : "200us, 1ms or 0.5s";
  return text.transform((v, ctx) => {
    const us = parseDurationUs(v);
    const n = us === null ? null : Math.round(us / per);
    if (
      n === null ||
      n < 0 ||
      (n === 0 && !options.zero) ||
      (options.max !== undefined && n > options.max)
    ) {
      ctx.addIssue({
        code: "custom",
        message: `expected a duration such as ${units}, got ${got(v)}`,
      });
      return z.NEVER;
    }
    return n;
  });
}

/** One of a fixed set of words. */
export function choice<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, {
    error: (issue) => `expected one of ${values.join(", ")}, got ${got(issue.input)}`,
  });
}

/** A flag switch; text "true"/"false" too (as `--set key=value` gives it). */
export const flag = z
  .union([z.boolean(), z.enum(["true", "false"])])
  .transform((v) => v === true || v === "true");

/**
 * One line per problem, each naming the option as `name(key)` gives it (`--hosts` for a flag,
 * `load.hosts` in a scenario file). Messages may name other options as `{key}`: they are named
 * the same way.
 */
export function formatIssues(
  error: z.ZodError,
  name: (key: string) => string,
  what: string,
): string {
  const named = (message: string) =>
    message.replace(/\{([a-zA-Z]+)\}/g, (_, key: string) => name(key));
  return error.issues
    .map((issue) => {
      const key = issue.path.map(String).join(".");
      if (issue.code === "unrecognized_keys") {
        return issue.keys.map((k) => `${name(k)}: unknown ${what}`).join("; ");
      }
      return key === "" ? named(issue.message) : `${name(key)}: ${named(issue.message)}`;
    })
    .join("; ");
}

/** The long flag of a key: reorderDepth -> --reorder-depth. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Keys set to undefined count as absent (callers spread partial objects). */
export function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
