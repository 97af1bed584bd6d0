/**
 * The paired receiver's programmatic API, in one place for its users: startReceiver binds
 * --listeners sockets (one listener thread each, SO_REUSEPORT) feeding --workers worker threads
 * and resolves once every socket is bound; stop() drains and reports. runReceiver adds the stop
 * conditions (duration, idle, a failed sink, an abort signal) for the CLI and scenarios.
 */
export type { SenderTruthHost } from "./drain.ts";
export type { ReceiverOptions, RunOptions } from "./options.ts";
export type { ReceiverProgress } from "./progress.ts";
export type { ReceiverReport } from "./receiver-report.ts";
export { runReceiver } from "./run-receiver.ts";
export { type RunningReceiver, startReceiver } from "./start-receiver.ts";
