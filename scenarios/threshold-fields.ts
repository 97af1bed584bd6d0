/**
 * The figures a plan will produce, by name, and the check that every threshold names one of them
 * before the first trial (a typo is exit 2 with the closest valid name, not a failed threshold
 * after the whole run). The names come from the results.json schema, so they cannot drift from
 * what the runner writes.
 */
import { closest } from "fastest-levenshtein";
import { z } from "zod";
import { SEQUENCE_COUNTERS } from "../receiver/sequence.ts";
import { UsageError } from "./options.ts";
import { goalOutcomeSchema, trialFiguresSchema } from "./results-schema.ts";
import type { Scenario } from "./schema.ts";
import { fieldsOf, type Threshold } from "./thresholds.ts";

/** A name tree: a leaf, a node with known children, or open (any name below is accepted). */
type Names = { kind: "leaf" } | { kind: "open" } | { kind: "node"; children: Map<string, Names> };

const LEAF: Names = { kind: "leaf" };
const OPEN: Names = { kind: "open" };

function node(entries: Iterable<[string, Names]>): Names {
  return { kind: "node", children: new Map(entries) };
}

/** The names of a zod schema: objects give their keys, records and unknowns stay open. */
function namesOf(schema: z.core.$ZodType): Names {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) {
    s = s.unwrap() as z.core.$ZodType;
  }
  if (s instanceof z.ZodObject) {
    return node(
      Object.entries(s.shape).map(
        ([k, v]) => [k, namesOf(v as z.core.$ZodType)] as [string, Names],
      ),
    );
  }
  if (s instanceof z.ZodRecord || s instanceof z.ZodUnknown || s instanceof z.ZodAny) return OPEN;
  return LEAF;
}

const leaves = (keys: readonly string[]): Names => node(keys.map((k) => [k, LEAF]));

/** Every name a threshold may read for this scenario's plan. */
export function figureNames(scenario: Scenario): Names {
  const trial = namesOf(trialFiguresSchema);
  const top = trial.kind === "node" ? new Map(trial.children) : new Map<string, Names>();
  // The receiver's sequence counters are a fixed list; the rest of its report stays open.
  top.set("sequence", leaves(SEQUENCE_COUNTERS));
  const plan = scenario.plan;
  const each = plan.kind === "sweep" || plan.kind === "compare" ? plan.each : plan;
  if (each.kind === "search") {
    const goal = namesOf(goalOutcomeSchema);
    top.set("search", node(each.goals.map((g) => [g.name, goal] as [string, Names])));
  }
  if (plan.kind === "soak") {
    top.set(
      "soak",
      leaves([
        "samples",
        "rssSlopeBytesPerMin",
        "rssSlopeWholeRunBytesPerMin",
        "rssGrowthBytes",
        "maxDropsInSample",
      ]),
    );
  }
  if (plan.kind === "sweep") top.set("fit", leaves(["key", "rssPerUnitBytes", "firstLossAt"]));
  if (plan.kind === "compare") {
    // A compare plan is judged on its verdict only.
    return node([
      [
        "compare",
        leaves(["regressions", "improvements", "throughputRatio", "p99Ratio", "lossDelta"]),
      ],
    ]);
  }
  return node(top);
}

/** Every full name under a tree (for suggestions), open nodes as their prefix. */
function allNames(names: Names, prefix = ""): string[] {
  if (names.kind !== "node") return prefix === "" ? [] : [prefix];
  const out: string[] = [];
  for (const [k, v] of names.children)
    out.push(...allNames(v, prefix === "" ? k : `${prefix}.${k}`));
  return out;
}

/** Null when `path` is a name of the tree, else why not (with the closest valid name). */
export function unknownField(names: Names, path: string): string | null {
  let at = names;
  const keys = path.split(".");
  for (let i = 0; i < keys.length; i++) {
    if (at.kind === "open") return null;
    if (at.kind === "leaf") {
      return `${keys.slice(0, i).join(".")} is a number, it has no field "${keys[i]}"`;
    }
    const next = at.children.get(keys[i]);
    if (next === undefined) {
      const candidates = allNames(names);
      const guess = candidates.length > 0 ? closest(path, candidates) : null;
      return `${path} is not a figure this plan produces${guess ? `; did you mean ${guess}?` : ""}`;
    }
    at = next;
  }
  return at.kind === "node"
    ? `${path} is a group of figures, not one (e.g. ${allNames(at, path)[0]})`
    : null;
}

/** Throws a UsageError (exit 2) naming the first threshold that reads a figure that will not exist. */
export function checkThresholdFields(
  thresholds: readonly Threshold[],
  scenario: Scenario,
  file: string,
): void {
  const names = figureNames(scenario);
  for (const t of thresholds) {
    for (const field of fieldsOf(t)) {
      const why = unknownField(names, field);
      if (why !== null) throw new UsageError(`${file}: threshold "${t.source}": ${why}`);
    }
  }
}
