/**
 * Thresholds in the k6 spirit: `drops.total == 0`, `latencyUs.endToEnd.p99 < 5000`,
 * `rate.achievedPps >= 0.99 * rate.targetPps`. One comparison per threshold, each side an
 * arithmetic expression over numbers and dotted report fields. Parsed by a small recursive
 * descent parser into a tree (never eval'd), so a scenario file cannot run code.
 *
 * Pure: no I/O. The runner evaluates every threshold against each result's figures.
 */
import { figure, percent } from "./format.ts";

export type Expr =
  | { kind: "number"; value: number }
  | { kind: "field"; path: string }
  | { kind: "negate"; operand: Expr }
  | { kind: "binary"; op: "+" | "-" | "*" | "/"; left: Expr; right: Expr };

export type Comparator = "==" | "!=" | "<" | "<=" | ">" | ">=";

export interface Threshold {
  source: string;
  left: Expr;
  op: Comparator;
  right: Expr;
}

export class ThresholdSyntaxError extends Error {
  override name = "ThresholdSyntaxError";
}

type Token =
  | { kind: "number"; value: number; at: number }
  | { kind: "field"; path: string; at: number }
  | { kind: "op"; op: string; at: number };

const COMPARATORS: readonly string[] = ["==", "!=", "<=", ">=", "<", ">"];

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === " " || c === "\t") {
      i++;
      continue;
    }
    const rest = source.slice(i);
    // Numbers: 5000, 0.99, 1e6, 1_000, with an optional k/m suffix (100k = 100000).
    const num = /^(\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?)([kKmM](?![A-Za-z0-9_]))?/.exec(rest);
    if (num) {
      const factor = num[2] ? (num[2].toLowerCase() === "k" ? 1e3 : 1e6) : 1;
      tokens.push({ kind: "number", value: Number(num[1].replaceAll("_", "")) * factor, at: i });
      i += num[0].length;
      continue;
    }
    const field = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*/.exec(rest);
    if (field) {
      tokens.push({ kind: "field", path: field[0], at: i });
      i += field[0].length;
      continue;
    }
    const two = rest.slice(0, 2);
    if (COMPARATORS.includes(two)) {
      tokens.push({ kind: "op", op: two, at: i });
      i += 2;
      continue;
    }
    if ("+-*/()<>".includes(c)) {
      tokens.push({ kind: "op", op: c, at: i });
      i++;
      continue;
    }
    if (c === "=") {
      throw new ThresholdSyntaxError(`at column ${i + 1}: "=" is not a comparison; use "=="`);
    }
    throw new ThresholdSyntaxError(`at column ${i + 1}: unexpected character "${c}"`);
  }
  return tokens;
}

/**
 * Parses `EXPR OP EXPR` with OP one of == != < <= > >=, EXPR built from numbers (k/m suffix
 * allowed), dotted field names, + - * /, unary minus and parentheses.
 */
export function parseThreshold(source: string): Threshold {
  const tokens = tokenize(source);
  let pos = 0;
  const peek = () => tokens[pos];
  const where = () => (pos < tokens.length ? `at column ${tokens[pos].at + 1}` : "at the end");

  const primary = (): Expr => {
    const t = tokens[pos];
    if (!t) throw new ThresholdSyntaxError("expected a number or a field name at the end");
    if (t.kind === "number") {
      pos++;
      return { kind: "number", value: t.value };
    }
    if (t.kind === "field") {
      pos++;
      return { kind: "field", path: t.path };
    }
    if (t.op === "(") {
      pos++;
      const inner = sum();
      const close = tokens[pos];
      if (close?.kind !== "op" || close.op !== ")") {
        throw new ThresholdSyntaxError(`expected ")" ${where()}`);
      }
      pos++;
      return inner;
    }
    if (t.op === "-") {
      pos++;
      return { kind: "negate", operand: primary() };
    }
    throw new ThresholdSyntaxError(`expected a number or a field name ${where()}`);
  };
  const product = (): Expr => {
    let left = primary();
    for (let t = peek(); t?.kind === "op" && (t.op === "*" || t.op === "/"); t = peek()) {
      pos++;
      left = { kind: "binary", op: t.op, left, right: primary() };
    }
    return left;
  };
  const sum = (): Expr => {
    let left = product();
    for (let t = peek(); t?.kind === "op" && (t.op === "+" || t.op === "-"); t = peek()) {
      pos++;
      left = { kind: "binary", op: t.op, left, right: product() };
    }
    return left;
  };

  if (tokens.length === 0) throw new ThresholdSyntaxError("empty threshold");
  const left = sum();
  const opToken = tokens[pos];
  if (opToken?.kind !== "op" || !COMPARATORS.includes(opToken.op)) {
    throw new ThresholdSyntaxError(
      `expected a comparison (== != < <= > >=) ${where()}, as in "drops.total == 0"`,
    );
  }
  pos++;
  const right = sum();
  if (pos < tokens.length)
    throw new ThresholdSyntaxError(`unexpected "${show(tokens[pos])}" ${where()}`);
  return { source: source.trim(), left, op: opToken.op as Comparator, right };
}

function show(t: Token): string {
  return t.kind === "number" ? String(t.value) : t.kind === "field" ? t.path : t.op;
}

/** Every dotted field a threshold reads, in order of appearance. */
export function fieldsOf(threshold: Threshold): string[] {
  const out: string[] = [];
  const walk = (e: Expr): void => {
    if (e.kind === "field") out.push(e.path);
    else if (e.kind === "negate") walk(e.operand);
    else if (e.kind === "binary") {
      walk(e.left);
      walk(e.right);
    }
  };
  walk(threshold.left);
  walk(threshold.right);
  return out;
}

/** The value at a dotted path, or undefined. Only own properties are followed. */
export function lookup(figures: unknown, path: string): unknown {
  let at: unknown = figures;
  for (const key of path.split(".")) {
    if (at === null || typeof at !== "object" || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

export interface ThresholdOutcome {
  threshold: string;
  pass: boolean;
  /** The two sides as evaluated (absent when a field is missing). */
  left?: number;
  right?: number;
  /** How far the left side is from passing (left - right), 0 when it passes. */
  by?: number;
  /** `by` relative to the right side, when the right side is not zero. */
  byRatio?: number;
  /** One line for people: "latencyUs.endToEnd.p99 = 7234 < 5000 failed by 2234 (44.7%)". */
  message: string;
}

function evaluate(e: Expr, figures: unknown, missing: string[]): number {
  switch (e.kind) {
    case "number":
      return e.value;
    case "field": {
      const v = lookup(figures, e.path);
      if (typeof v === "number" && Number.isFinite(v)) return v;
      if (typeof v === "boolean") return v ? 1 : 0;
      missing.push(e.path);
      return Number.NaN;
    }
    case "negate":
      return -evaluate(e.operand, figures, missing);
    case "binary": {
      const a = evaluate(e.left, figures, missing);
      const b = evaluate(e.right, figures, missing);
      if (e.op === "+") return a + b;
      if (e.op === "-") return a - b;
      if (e.op === "*") return a * b;
      return a / b;
    }
  }
}

function compare(a: number, op: Comparator, b: number): boolean {
  switch (op) {
    case "==":
      return a === b;
    case "!=":
      return a !== b;
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
  }
}

/** Evaluates one threshold. A missing (or non-numeric) field fails, naming the field. */
export function evaluateThreshold(threshold: Threshold, figures: unknown): ThresholdOutcome {
  const missing: string[] = [];
  const left = evaluate(threshold.left, figures, missing);
  const right = evaluate(threshold.right, figures, missing);
  if (missing.length > 0) {
    return {
      threshold: threshold.source,
      pass: false,
      message: `${threshold.source}: failed, ${missing.join(", ")} not in this result's figures`,
    };
  }
  const pass = compare(left, threshold.op, right);
  const by = pass ? 0 : left - right;
  const outcome: ThresholdOutcome = {
    threshold: threshold.source,
    pass,
    left,
    right,
    by,
    message: "",
  };
  const sides =
    threshold.right.kind === "number"
      ? `${figure(left)}`
      : `${figure(left)} ${threshold.op} ${figure(right)}`;
  if (pass) {
    outcome.message = `${threshold.source}: ok (${sides})`;
  } else {
    if (right !== 0) outcome.byRatio = by / Math.abs(right);
    const ratio = outcome.byRatio === undefined ? "" : ` (${percent(outcome.byRatio)})`;
    const distance =
      threshold.op === "==" || threshold.op === "!=" || by !== 0
        ? `, off by ${figure(by)}${ratio}`
        : ", at the limit";
    outcome.message = `${threshold.source}: FAILED (${sides})${distance}`;
  }
  return outcome;
}
