/**
 * Process groups of the command targets still running, killed if this process exits first:
 * each target leads its own group (so that stopping it reaches what it forks), which would
 * otherwise let it outlive us.
 */

const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** Remembers a group until untrackGroup; the first call installs the exit hook. */
export function trackGroup(pid: number): void {
  liveGroups.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const group of liveGroups) killGroup(group, "SIGKILL");
  });
}

export function untrackGroup(pid: number): void {
  liveGroups.delete(pid);
}

/** Signals every process of a group; a group already gone is not an error. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
