/**
 * Ctrl-C and SIGTERM for the long-running commands: the first signal asks the run to stop
 * cleanly (it still writes its report); a second one leaves at once with exit code 130.
 */
import { EXIT } from "./options.ts";

/**
 * Installs the handlers; `onFirst` should abort the run. `onSecond` may say what is left behind
 * before the process exits. Returns the function that removes the handlers again.
 */
export function onInterrupt(
  onFirst: (signal: NodeJS.Signals) => void,
  onSecond?: (signal: NodeJS.Signals) => void,
): () => void {
  let seen = false;
  const handler = (signal: NodeJS.Signals) => {
    if (seen) {
      onSecond?.(signal);
      process.exit(EXIT.interrupted);
    }
    seen = true;
    onFirst(signal);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}
