/**
 * The bind handshake: listeners start one at a time, the first on the requested port (0 = any
 * free one) and the others on the port it got, each telling the main thread it is bound (or why
 * not). Afterwards no other socket may share the port: SO_REUSEPORT would let another program
 * (another receiver, a netconsd) silently take a share of the traffic.
 */
import type { MessagePort } from "node:worker_threads";
import { receivingSockets } from "./kernel-drops.ts";
import type { ListenerNotice, ListenerResult, StopMessage } from "./thread-messages.ts";
import type { Topology } from "./threads.ts";

export interface Bound {
  address: string;
  port: number;
  rcvbufGranted: number;
}

/** Why binding failed; `shared` when other sockets hold the port (worth another free port). */
export class BindError extends Error {
  override name = "BindError";
  readonly shared: boolean;
  constructor(message: string, shared: boolean) {
    super(message);
    this.shared = shared;
  }
}

function waitNotice(port: MessagePort): Promise<ListenerNotice> {
  return new Promise((resolve) => port.once("message", resolve));
}

/** Starts every listener; on failure the started ones are stopped and a BindError thrown. */
export async function bindListeners(
  threads: Topology,
  listeners: number,
  bind: string,
  port: number,
): Promise<Bound> {
  let bound: Bound = { address: bind, port, rcvbufGranted: 0 };
  const stopAll = async () => {
    for (const c of threads.listenerControls) c.postMessage({ type: "stop" } satisfies StopMessage);
    await Promise.allSettled(threads.listenerResults);
  };
  for (let l = 0; l < listeners; l++) {
    // The first listener may take any free port (0); the others join it.
    const { control, result } = threads.startListener(l, bound.port);
    const notice = waitNotice(control);
    // A thread that dies before binding (it could not even load) must not leave us waiting.
    const n = await Promise.race([
      notice,
      result.then(
        (_: ListenerResult): ListenerNotice => ({
          type: "error",
          message: "the listener ended before binding",
        }),
        (e: Error): ListenerNotice => ({ type: "error", message: e?.message ?? String(e) }),
      ),
    ]);
    if (n.type === "error") {
      await stopAll();
      throw new BindError(
        `cannot listen on [${bind}]:${bound.port}: ${n.message}` +
          (n.code === "EADDRINUSE" ? " (is another receiver or netconsd using it?)" : ""),
        false,
      );
    }
    bound = { address: n.address, port: n.port, rcvbufGranted: n.rcvbufBytes };
  }
  const present = receivingSockets(bound.port, bound.address);
  if (present > listeners) {
    await stopAll();
    throw new BindError(
      `cannot listen on [${bind}]:${bound.port}: ${present - listeners} other socket(s) are bound to ` +
        "that port with SO_REUSEPORT and would take a share of the traffic (another receiver or netconsd?)",
      true,
    );
  }
  return bound;
}
