/**
 * A receiver run with its stop conditions, for the CLI and scenarios: it starts a receiver and
 * stops it on the first of duration, idle (nothing read for a while), a failed sink, or the
 * abort signal, and always resolves with the report.
 */
import type { SenderTruthHost } from "./drain.ts";
import { type RunOptions, resolveReceiverOptions } from "./options.ts";
import type { ReceiverProgress } from "./progress.ts";
import type { ReceiverReport } from "./receiver-report.ts";
import { type RunningReceiver, startResolved } from "./start-receiver.ts";

/** How often idleness is checked, at most. */
const IDLE_POLL_MS = 100;

export async function runReceiver(
  options: RunOptions,
  hooks: {
    onProgress?: (p: ReceiverProgress) => void;
    onStarted?: (r: RunningReceiver) => void;
    signal?: AbortSignal;
    /** Called at stop time for the sender's truth (it is often written only when the sender ends). */
    truth?: () => SenderTruthHost[] | undefined;
  } = {},
): Promise<{ report: ReceiverReport; receiver: RunningReceiver }> {
  const { duration, idleExit, ...receiverOptions } = resolveReceiverOptions(options);
  const receiver = await startResolved(receiverOptions, { onProgress: hooks.onProgress });
  hooks.onStarted?.(receiver);
  const reason = await new Promise<string>((resolve) => {
    let durationTimer: NodeJS.Timeout | undefined;
    let idleTimer: NodeJS.Timeout | undefined;
    let settled = false;
    const done = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(durationTimer);
      clearTimeout(idleTimer);
      hooks.signal?.removeEventListener("abort", onAbort);
      resolve(why);
    };
    const onAbort = () => done(String(hooks.signal?.reason ?? "signal"));
    if (hooks.signal?.aborted) return done(String(hooks.signal.reason ?? "signal"));
    hooks.signal?.addEventListener("abort", onAbort, { once: true });
    receiver.sinkFailure.then((why) => done(why));
    if (duration > 0) durationTimer = setTimeout(() => done("duration"), duration);
    if (idleExit > 0) {
      // Idle = nothing read for idleExit ms, counted from the start or the last datagram.
      let lastRead = -1;
      let lastChange = performance.now();
      const step = Math.min(IDLE_POLL_MS, idleExit);
      const poll = () => {
        const read = receiver.snapshot().packets.read;
        const now = performance.now();
        if (read !== lastRead) {
          lastRead = read;
          lastChange = now;
        } else if (now - lastChange >= idleExit) {
          return done("idle");
        }
        idleTimer = setTimeout(poll, step);
      };
      poll();
    }
  });
  const report = await receiver.stop(reason, { truth: hooks.truth?.() });
  return { report, receiver };
}
