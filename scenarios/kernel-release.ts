/** The running kernel's release (/proc/sys/kernel/osrelease), for a run's environment block. */
import { readProcText } from "../receiver/procfs.ts";

/** The kernel release, e.g. "6.8.0-45-generic"; "" where /proc cannot be read. */
export function kernelRelease(): string {
  return readProcText("/proc/sys/kernel/osrelease").trim();
}
