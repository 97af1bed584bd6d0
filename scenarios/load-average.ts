/** The machine's load average (/proc/loadavg), recorded with a run so busy machines show. */
import { readProcText } from "../receiver/procfs.ts";

/** The 1, 5 and 15 minute load averages; [] where /proc cannot be read. */
export function loadAverage(): number[] {
  const fields = readProcText("/proc/loadavg").trim().split(/\s+/).slice(0, 3).map(Number);
  return fields.length === 3 && fields.every(Number.isFinite) ? fields : [];
}
