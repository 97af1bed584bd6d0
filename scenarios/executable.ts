/**
 * Finding the program a command target runs before anything starts: on PATH for a bare name,
 * else relative to the working directory or to the scenario file, so that a missing or
 * misspelt executable is one line (exit 2) instead of a failed trial per point.
 */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, resolve } from "node:path";
import { executableOf, shellWord } from "./command-template.ts";
import { UsageError } from "./options.ts";

/** Where a command's program is looked for. */
export interface LookupPlaces {
  /** The directory the command runs in (target.cwd, else this process's). */
  cwd: string;
  /** The scenario file's directory, for programs named relative to the scenario. */
  scenarioDir?: string;
  /** The PATH to search (default: this process's). */
  path?: string;
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The absolute path of `name`, or null: a name with a `/` is taken relative to the working
 * directory, then to the scenario's; a bare name is searched on PATH, then in the scenario's
 * directory.
 */
export function findExecutable(name: string, places: LookupPlaces): string | null {
  const candidates: string[] = [];
  if (name.includes("/")) {
    if (isAbsolute(name)) candidates.push(name);
    else candidates.push(resolve(places.cwd, name));
  } else {
    for (const dir of (places.path ?? process.env.PATH ?? "").split(delimiter)) {
      if (dir !== "") candidates.push(resolve(places.cwd, dir, name));
    }
  }
  if (places.scenarioDir !== undefined && !isAbsolute(name)) {
    candidates.push(resolve(places.scenarioDir, name));
  }
  return candidates.find(isExecutableFile) ?? null;
}

/**
 * The command line with its program found: unchanged when the shell will find it itself (on
 * PATH, or a path from the working directory), with the absolute path put in when it was found
 * only next to the scenario file. A program found nowhere is a UsageError, one line, naming
 * where it looked. `what` names the setting for the message (e.g. "smoke.yaml: target.command").
 */
export function resolveCommand(command: string, places: LookupPlaces, what: string): string {
  const program = executableOf(command);
  if (program === null) throw new UsageError(`${what}: the command is empty`);
  const found = findExecutable(program, places);
  if (found === null) {
    const where = program.includes("/")
      ? `relative to ${places.cwd}${places.scenarioDir ? ` or ${places.scenarioDir}` : ""}`
      : `on PATH${places.scenarioDir ? ` or in ${places.scenarioDir}` : ""}`;
    throw new UsageError(`${what}: cannot run "${program}": no executable file ${where}`);
  }
  const shellFinds = program.includes("/")
    ? found === resolve(places.cwd, program)
    : findExecutable(program, { cwd: places.cwd, path: places.path }) !== null;
  if (shellFinds) return command;
  const at = command.indexOf(program);
  return `${command.slice(0, at)}${shellWord(found)}${command.slice(at + program.length)}`;
}
