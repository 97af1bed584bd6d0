/**
 * The scenarios a plan runs: every combination of a sweep's grid, and the baseline and candidate
 * sides of a compare plan, each built from the raw file and validated like the file itself.
 */
import { type Scenario, validateScenario } from "./schema.ts";
import { setPath } from "./set-path.ts";

/** Grid shorthands: `listeners`/`workers` mean target.listeners/workers. */
export function gridPath(key: string): string {
  return key === "listeners" || key === "workers" ? `target.${key}` : key;
}

/** Every combination of the grid's values, in file order (the last key varies fastest). */
export function gridPoints(grid: Record<string, readonly unknown[]>): Record<string, unknown>[] {
  let points: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    const next: Record<string, unknown>[] = [];
    for (const p of points) for (const v of values) next.push({ ...p, [key]: v });
    points = next;
  }
  return points;
}

/** The scenario at one sweep point (grid values set into a copy of the raw file). */
export function pointScenario(
  raw: Record<string, unknown>,
  point: Record<string, unknown>,
  file: string,
): Scenario {
  const copy = structuredClone(raw);
  for (const [key, value] of Object.entries(point)) setPath(copy, gridPath(key), value);
  const label = Object.entries(point)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return validateScenario(copy, `${file} (sweep point ${label})`);
}

/** The scenario for the baseline or candidate side of a compare plan. */
export function sideScenario(
  raw: Record<string, unknown>,
  side: "baseline" | "candidate",
  file: string,
): Scenario {
  const copy = structuredClone(raw);
  const plan = copy.plan as Record<string, unknown>;
  const override = (plan[side] ?? {}) as Record<string, unknown>;
  copy.target = { ...(copy.target as Record<string, unknown>), ...override };
  return validateScenario(copy, `${file} (plan.${side})`);
}
