/**
 * Reading a scenario file: size limit, YAML parsing with alias and duplicate-key limits, `--set`
 * overrides, validation of the file and of every point its plan will run. Every mistake is one
 * UsageError (exit 2) naming the file; nothing in a hostile file can crash or stall the CLI.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { isMap, isScalar, parseDocument, visit } from "yaml";
import { UsageError } from "./options.ts";
import { gridPoints, pointScenario, sideScenario } from "./points.ts";
import { type Scenario, validateScenario } from "./schema.ts";
import { parseSet, setPath } from "./set-path.ts";

/** A scenario file is a few KB; parsing is not linear in the number of keys, so cap it. */
export const MAX_SCENARIO_BYTES = 64 * 1024;
/** Aliases (`*name`) allowed in one file: enough for shared blocks, not for an alias bomb. */
export const MAX_ALIASES = 50;

export interface LoadedScenario {
  scenario: Scenario;
  /** The file after --set overrides, before defaults: what the sweep points are built from. */
  raw: Record<string, unknown>;
  file: string;
}

function readLimited(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (error) {
    throw new UsageError(
      `${file}: cannot read the scenario file (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  }
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_SCENARIO_BYTES) {
      throw new UsageError(
        `${file}: ${size} bytes is more than a scenario file may have (${MAX_SCENARIO_BYTES})`,
      );
    }
    const buf = Buffer.alloc(MAX_SCENARIO_BYTES + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buf.length; length += n) {
      n = readSync(fd, buf, length, buf.length - length, null);
    }
    if (length > MAX_SCENARIO_BYTES) {
      throw new UsageError(
        `${file}: more than ${MAX_SCENARIO_BYTES} bytes (a scenario file is small)`,
      );
    }
    return buf.subarray(0, length).toString("utf8");
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(
      `${file}: cannot read the scenario file (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  } finally {
    closeSync(fd);
  }
}

/** Parses YAML text into plain data, or throws a one-line UsageError naming `file`. */
export function parseScenarioYaml(text: string, file: string): unknown {
  // The yaml package's own duplicate-key check compares every key with every other one; the
  // walk below does the same with a set.
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e.linePos?.[0];
    throw new UsageError(
      `${file}${pos ? `:${pos.line}:${pos.col}` : ""}: not valid YAML: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`,
    );
  }
  let duplicate: string | null = null;
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return;
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) {
          duplicate = String(key);
          return visit.BREAK;
        }
        seen.add(key);
      }
    },
  });
  if (duplicate !== null)
    throw new UsageError(
      `${file}: not valid YAML: key "${duplicate}" appears twice in one mapping`,
    );
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (error) {
    // The yaml package throws when aliases would expand past the limit (an alias bomb).
    throw new UsageError(
      `${file}: not valid YAML: ${(error as Error).message.split("\n")[0]} (at most ${MAX_ALIASES} aliases)`,
    );
  }
}

/** Reads, parses, overrides and validates a scenario file. Throws UsageError on any mistake. */
export function loadScenario(file: string, sets: readonly string[] = []): LoadedScenario {
  const raw = parseScenarioYaml(readLimited(file), file);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new UsageError(
      `${file}: expected a YAML mapping with name, target, load, plan, thresholds`,
    );
  }
  const root = raw as Record<string, unknown>;
  for (const assignment of sets) {
    const { path, value } = parseSet(assignment);
    try {
      setPath(root, path, value);
    } catch (error) {
      throw new UsageError(`--set ${assignment}: ${(error as Error).message}`);
    }
  }
  const scenario = validateScenario(
    structuredClone(root),
    sets.length > 0 ? `${file} (with --set)` : file,
  );
  // Every sweep point must itself be a valid scenario: check them all now, not mid-run.
  if (scenario.plan.kind === "sweep") {
    for (const point of gridPoints(scenario.plan.grid)) pointScenario(root, point, file);
  }
  if (scenario.plan.kind === "compare") {
    for (const side of ["baseline", "candidate"] as const) sideScenario(root, side, file);
  }
  return { scenario, raw: root, file };
}
