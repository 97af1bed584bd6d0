/**
 * A receiver listener: one long-lived piscina task per thread, owning one UDP socket bound with
 * SO_REUSEPORT (so the kernel spreads flows over the listeners, as with netconsd's -l). Each
 * datagram goes to the worker chosen by a hash of its source address (hand-off.ts). A worker
 * with `queueLimit` datagrams in flight, or whose ring is full, gets no more: further datagrams
 * for it are counted as queue drops (bounded memory instead of netconsd's unbounded queues).
 * Two ways to read the socket: Node's dgram (one 'message' event per datagram, this file), or,
 * where the native addon is built, recvmmsg batches (native-listener.ts).
 */
import dgram from "node:dgram";
import { HandOff } from "./hand-off.ts";
import { loadListenerAddon, runNativeListener } from "./native-listener.ts";
import { workerForAddress } from "./route.ts";
import type {
  ListenerNotice,
  ListenerResult,
  ListenerTask,
  StopMessage,
} from "./thread-messages.ts";

export default function runListener(task: ListenerTask): Promise<ListenerResult> {
  const hand = new HandOff(task);
  if (task.kind === "native") {
    const loaded = loadListenerAddon();
    // The main thread checked it already; this only fails if the file changed in between.
    if ("error" in loaded) return Promise.reject(new Error(loaded.error));
    return runNativeListener(task, loaded.addon, hand);
  }
  const { writers, clock } = hand;
  const workers = writers.length;
  let rcvbufBytes = 0;
  let socketErrors = 0;
  let publishScheduled = false;
  let wakeTimer: NodeJS.Timeout | undefined;
  const publish = () => {
    publishScheduled = false;
    const wakeIn = hand.publish(clock());
    // A deferred wake (hand-off.ts): come back when it is due, even if nothing more arrives.
    if (wakeIn >= 0 && wakeTimer === undefined) {
      wakeTimer = setTimeout(
        () => {
          wakeTimer = undefined;
          publish();
        },
        Math.ceil(wakeIn / 1000),
      );
    }
  };

  const family = task.bind.includes(":") ? "udp6" : "udp4";
  const socket = dgram.createSocket({
    type: family,
    reuseAddr: false,
    reusePort: true,
    ...(task.rcvbuf > 0 ? { recvBufferSize: task.rcvbuf } : {}),
  });

  socket.on("message", (msg, rinfo) => {
    const recvUs = clock();
    hand.received(1, msg.length, recvUs);
    const address = rinfo.address;
    const w = workers === 1 ? 0 : workerForAddress(address, workers);
    if (!hand.reserve(w)) return;
    if (!writers[w].add(msg, address, rinfo.port, recvUs)) {
      hand.unreserve(w); // the ring is full: the worker is that far behind
      return;
    }
    // libuv delivers a burst of readable datagrams in one turn: publish once after it.
    if (!publishScheduled) {
      publishScheduled = true;
      setImmediate(publish);
    }
  });

  return new Promise<ListenerResult>((resolve, reject) => {
    let bound = false;
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (!bound) {
        task.control.postMessage({
          type: "error",
          message: error.message,
          code: error.code,
        } satisfies ListenerNotice);
        task.control.close();
        reject(error);
      } else {
        socketErrors++; // a receive error on a bound socket: counted, the socket keeps reading
      }
    });
    socket.bind({ address: task.bind, port: task.port, exclusive: true }, () => {
      bound = true;
      rcvbufBytes = socket.getRecvBufferSize();
      const a = socket.address();
      task.control.postMessage({
        type: "bound",
        address: a.address,
        port: a.port,
        rcvbufBytes,
      } satisfies ListenerNotice);
    });
    task.control.on("message", (m: StopMessage) => {
      if (m.type !== "stop") return;
      clearTimeout(wakeTimer);
      socket.close(() => resolve(hand.end({ rcvbufBytes, socketErrors, truncated: 0 })));
    });
  });
}
