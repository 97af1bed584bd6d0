/**
 * The netconsd probe module from the scenarios' side: where the built module is (or why it is
 * missing), the `{probe}` placeholder of a command template, and reading the file the probe
 * writes. The module itself and its file format are in receiver/probe/.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ProbeResult, parseProbeFile } from "../receiver/probe/probe-file.ts";
import { shellWord } from "./command-template.ts";
import { UsageError } from "./options.ts";

export type { ProbeResult } from "../receiver/probe/probe-file.ts";

/** Where receiver/probe/install.mjs puts its outputs. */
const BUILD_DIR = fileURLToPath(new URL("../receiver/probe/build/", import.meta.url));
const MODULE = join(BUILD_DIR, "netcons-probe.so");
/** The reason install.mjs wrote down when it could not build. */
const BUILD_ERROR = join(BUILD_DIR, "build-error.txt");

/** The environment variable naming the file the probe writes (read by the module at start-up). */
export const PROBE_OUT_ENV = "NETCONS_PROBE_OUT";
/** The environment variable setting the probe's interval between snapshots, in ms (0: exit only). */
export const PROBE_INTERVAL_ENV = "NETCONS_PROBE_INTERVAL_MS";
/** The placeholder a command template uses for the module's path. */
export const PROBE_PLACEHOLDER = "{probe}";
/** The probe file's name inside a trial's directory. */
export const PROBE_FILE_NAME = "probe.json";

/** The built module's absolute path, or null (probeBuildError() says why). */
export function probeModulePath(): string | null {
  return existsSync(MODULE) ? MODULE : null;
}

/** The test host program built next to the module (it loads a module as netconsd does), or null. */
export function probeHostPath(): string | null {
  const host = join(BUILD_DIR, "probe-host");
  return existsSync(host) ? host : null;
}

/** Why the module is not there, or null when it is. */
export function probeBuildError(): string | null {
  if (probeModulePath() !== null) return null;
  const recorded = existsSync(BUILD_ERROR) ? readFileSync(BUILD_ERROR, "utf8").trim() : "";
  return (
    recorded ||
    "not built yet: `npm ci` builds it, or run `node receiver/probe/install.mjs` (needs a C compiler)"
  );
}

/**
 * Replaces `{probe}` in a command template with the module's path, and names the file the probe
 * writes in `trialDir` (through the environment the command must run with). Pure: the caller
 * removes a file left there by an earlier trial before starting the command. Without `{probe}`, the template comes back unchanged with no environment
 * and outFile null. A template with `{probe}` when the module is not built is a UsageError.
 */
export function expandProbe(
  template: string,
  trialDir: string,
): { command: string; env: Record<string, string>; outFile: string | null } {
  if (!template.includes(PROBE_PLACEHOLDER)) return { command: template, env: {}, outFile: null };
  const module = probeModulePath();
  if (module === null) {
    throw new UsageError(
      `${PROBE_PLACEHOLDER}: the netconsd probe is not built (${probeBuildError()})`,
    );
  }
  const outFile = join(trialDir, PROBE_FILE_NAME);
  return {
    command: template.replaceAll(PROBE_PLACEHOLDER, shellWord(module)),
    env: { [PROBE_OUT_ENV]: outFile },
    outFile,
  };
}

/** The figures in a probe file, or why there are none (no file, not a probe file...). */
export function readProbeFile(file: string): ProbeResult | { error: string } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    return {
      error:
        code === "ENOENT"
          ? `no probe file ${file} (the target never loaded the probe, or never got to write it)`
          : `cannot read probe file ${file}: ${code}`,
    };
  }
  const result = parseProbeFile(text);
  return "error" in result ? { error: `${file}: ${result.error}` } : result;
}
