/** Helpers for the receiver tests: senders bound to chosen loopback addresses, waiting. */
import dgram from "node:dgram";
import { type ReceiverOptions, type RunningReceiver, startReceiver } from "../receiver/receive.ts";

export interface Sender {
  address: string;
  send(payload: Uint8Array): Promise<void>;
  close(): void;
}

/** A UDP socket bound to `address` (any 127/8 address works without privileges). */
export async function sender(address = "127.0.0.1"): Promise<Sender> {
  const socket = dgram.createSocket(address.includes(":") ? "udp6" : "udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, address, () => resolve());
  });
  return {
    address,
    send: (payload) =>
      new Promise<void>((resolve, reject) => {
        socket.send(payload, receiverPort, "127.0.0.1", (error) =>
          error ? reject(error) : resolve(),
        );
      }),
    close: () => socket.close(),
  };
}

let receiverPort = 0;
/** Senders created after this send to `port`. */
export function targetPort(port: number): void {
  receiverPort = port;
}

/** A receiver on 127.0.0.1 at any free port; senders created after this send to it. */
export async function loopbackReceiver(options: ReceiverOptions = {}): Promise<RunningReceiver> {
  const r = await startReceiver({ bind: "127.0.0.1", port: 0, ...options });
  targetPort(r.port);
  return r;
}

/** Waits (bounded) until the receiver has processed `count` datagrams. */
export async function waitProcessed(r: RunningReceiver, count: number, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  const done = () => {
    const s = r.snapshot();
    return s.packets.received + s.drops.queue >= count;
  };
  while (!done() && Date.now() < end) await pause(20);
}

/** A short pause so a paced sender does not overflow a default socket buffer on a busy machine. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
