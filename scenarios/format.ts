/**
 * Numbers for people: the one way every summary and table writes counts, rates, durations,
 * bytes and ratios, and colours a verdict word. (JSON reports keep raw numbers with units in
 * their field names; these strings are only for the human output.)
 *
 * Colour comes from Node's own `util.styleText`, which asks the stream whether it takes colour:
 * a TTY with more than 2 colours, with NO_COLOR, NODE_DISABLE_COLORS and TERM=dumb honoured and
 * FORCE_COLOR obeyed. No extra dependency, and the same rules as Node's own coloured output.
 */
import { styleText } from "node:util";

const grouped = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** A value that is not a finite number prints as this (a figure that was not measured). */
export const MISSING = "-";

function finite(n: number | null | undefined): n is number {
  return typeof n === "number" && Number.isFinite(n);
}

/** Three significant digits (whole numbers as they are): 6.33, 81.2, 812, 4,210, 2. */
function significant(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1000) return grouped.format(n);
  if (abs >= 100 || Number.isInteger(n)) return n.toFixed(0);
  return n.toFixed(abs >= 10 ? 1 : 2);
}

/** A count: `12,345` (rounded to a whole number). */
export function count(n: number | null | undefined): string {
  return finite(n) ? grouped.format(n) : MISSING;
}

/**
 * A figure whose unit is printed elsewhere or not known (a threshold's sides, a benchmark table's
 * value column): whole numbers and anything from 1,000 up grouped (`7,234`), others to four
 * significant digits, enough to compare by eye (`123.5`, `4.568`, `0.01235`).
 */
export function figure(n: number | null | undefined): string {
  if (!finite(n)) return MISSING;
  if (Number.isInteger(n) || Math.abs(n) >= 1000) return grouped.format(n);
  return String(Number(n.toPrecision(4)));
}

/** A rate per second: `12,345/s`; below 100/s with three significant digits (`2.50/s`). */
export function rate(perSecond: number | null | undefined): string {
  if (!finite(perSecond)) return MISSING;
  return `${Math.abs(perSecond) >= 100 ? grouped.format(perSecond) : significant(perSecond)}/s`;
}

/** A duration given in µs: `6.33 µs`, `812 µs`, `4.21 ms`, `1.20 s`, `12 s`, `1,234 s`. */
export function durationUs(us: number | null | undefined): string {
  if (!finite(us)) return MISSING;
  const abs = Math.abs(us);
  if (abs < 999.5) return `${significant(us)} µs`;
  if (abs < 999_500) return `${significant(us / 1000)} ms`;
  return `${significant(us / 1e6)} s`;
}

const BYTE_UNITS = ["KiB", "MiB", "GiB", "TiB"] as const;

/** A size in bytes: `512 B`, `1.5 KiB`, `812.3 MiB`, `2.0 GiB` (binary units, one decimal). */
export function bytes(n: number | null | undefined): string {
  if (!finite(n)) return MISSING;
  let value = n;
  let unit = "B";
  for (const next of BYTE_UNITS) {
    if (Math.abs(value) < 1024) break;
    value /= 1024;
    unit = next;
  }
  return unit === "B" ? `${Math.round(value)} B` : `${value.toFixed(1)} ${unit}`;
}

/**
 * A ratio as a percentage: `0.0123` -> `1.23%`, `1` -> `100%`, three significant digits; a
 * non-zero ratio under 0.001% prints as `<0.001%` so that it never reads as none.
 */
export function percent(ratio: number | null | undefined): string {
  if (!finite(ratio)) return MISSING;
  const p = ratio * 100;
  if (p !== 0 && Math.abs(p) < 0.001) return p > 0 ? "<0.001%" : ">-0.001%";
  if (Math.abs(p) >= 100) return `${grouped.format(p)}%`;
  return `${Number(p.toPrecision(3))}%`;
}

/**
 * A verdict word (PASS, FAIL, better, worse...) in bold green when `ok`, bold red when not, or
 * yellow when `ok` is "warn"; plain when `stream` does not take colour (not a TTY, NO_COLOR...).
 * `stream` is where the word will be written (stdout unless the command writes human output to
 * stderr, see output-files.ts `humanOut`).
 */
export function verdict(
  word: string,
  ok: boolean | "warn",
  stream: NodeJS.WritableStream = process.stdout,
): string {
  const colour = ok === "warn" ? "yellow" : ok ? "green" : "red";
  return styleText(["bold", colour], word, { stream });
}
