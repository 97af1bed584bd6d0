/**
 * The listener loop on the native addon (blaster/native/netraw.c): one recvmmsg(2) call reads up
 * to 256 datagrams into one reused Buffer, so the per-datagram cost of Node's dgram path (a
 * libuv callback, a 'message' event, a Buffer and an rinfo object with the address string) is
 * gone. Per datagram this loop does what the dgram path does (hash of the source address ->
 * worker, queue-limit check, ring append), reading the length, port and address text that the
 * addon wrote into an Int32Array, without making a string. The receive time is taken once per
 * recvmmsg batch.
 *
 * The loop is synchronous: the thread blocks in poll() for at most STOP_CHECK_MS and looks for
 * the main thread's stop message with receiveMessageOnPort between calls, so no event loop turn
 * is needed per batch. Each read is published to the workers' rings at once (hand-off.ts).
 */
import { receiveMessageOnPort } from "node:worker_threads";
import {
  ADDON_PATH,
  loadNetRaw,
  type NetRaw,
  RECV_MAX,
  RECV_META_INTS,
} from "../blaster/raw/native.ts";
import type { HandOff } from "./hand-off.ts";
import { workerForAddressBytes } from "./route.ts";
import type {
  ListenerNotice,
  ListenerResult,
  ListenerTask,
  StopMessage,
} from "./thread-messages.ts";

/** Bytes per datagram slot: netconsole datagrams are at most ~1.1 KB; longer ones are cut here
 * and counted (`truncated`). */
export const SLOT_BYTES = 2048;
/** Longest poll() wait with nothing pending, so a stop is seen within this long. */
const STOP_CHECK_MS = 20;
/**
 * A read that found from NAP_FROM to COALESCE_BELOW datagrams is followed by a nap of up to
 * COALESCE_MS (and at most --batch-delay): under load each wake-up otherwise returns a few
 * datagrams, and a poll wake-up plus two system calls for so few cost about what Node's dgram
 * path costs. The nap lets the socket queue fill, so one recvmmsg takes several. A socket buffer
 * holds a few hundred datagrams even at its default size, so 0.5 ms is safe up to several hundred
 * thousand per second; busier sockets fill whole reads and never nap, and light traffic (one
 * datagram per read) never naps either, so it is not delayed.
 */
const NAP_FROM = 4;
const COALESCE_BELOW = 32;
const COALESCE_MS = 0.5;
/** Byte offset of the address text within a datagram's meta record. */
const TEXT_OFFSET = 32;

export type ListenerKind = "native" | "dgram";

/** The addon when it has the receive functions, or why not (a build older than them counts). */
export function loadListenerAddon(): { addon: NetRaw } | { error: string } {
  const loaded = loadNetRaw();
  if ("error" in loaded) return loaded;
  if (typeof loaded.addon.recvBatch !== "function") {
    return {
      error: `the native addon ${ADDON_PATH}, which predates the receive functions (no recvBatch); rebuild it with \`node blaster/native/install.mjs\``,
    };
  }
  return loaded;
}

export function runNativeListener(
  task: ListenerTask,
  addon: NetRaw,
  hand: HandOff,
): Promise<ListenerResult> {
  let fd: number;
  let rcvbufBytes: number;
  try {
    fd = addon.openListener(task.bind, task.port, task.rcvbuf);
    try {
      const info = addon.socketInfo(fd);
      rcvbufBytes = info.rcvbufBytes;
      task.control.postMessage({
        type: "bound",
        address: info.address,
        port: info.port,
        rcvbufBytes,
      } satisfies ListenerNotice);
    } catch (error) {
      addon.close(fd);
      throw error;
    }
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    task.control.postMessage({
      type: "error",
      message: e.message,
      code: e.code,
    } satisfies ListenerNotice);
    task.control.close();
    return Promise.reject(e);
  }

  const { writers, clock } = hand;
  const workers = writers.length;
  const napMs = Math.min(COALESCE_MS, task.batchDelayMs);
  const buffer = Buffer.alloc(RECV_MAX * SLOT_BYTES);
  const meta = new Int32Array(RECV_MAX * RECV_META_INTS);
  const metaBytes = new Uint8Array(meta.buffer);
  let truncated = 0;
  let socketErrors = 0;
  const nap = new Int32Array(new SharedArrayBuffer(4)); // Atomics.wait() sleeps on it

  // µs until a deferred worker wake is due (hand-off.ts), -1 when none is.
  let wakeIn = -1;
  for (;;) {
    const m = receiveMessageOnPort(task.control);
    if (m && (m.message as StopMessage).type === "stop") break;
    // With a wake deferred, do not block in poll(): its timeout has millisecond steps.
    const n = addon.recvBatch(fd, buffer, meta, RECV_MAX, wakeIn >= 0 ? 0 : STOP_CHECK_MS);
    if (n < 0) {
      socketErrors++; // counted; the socket keeps reading, as on the dgram path
      continue;
    }
    const now = clock();
    if (n > 0) {
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        const at = i * RECV_META_INTS;
        const length = meta[at];
        bytes += length;
        truncated += meta[at + 2];
        const textAt = at * 4 + TEXT_OFFSET;
        const textLength = meta[at + 3];
        const w = workers === 1 ? 0 : workerForAddressBytes(metaBytes, textAt, textLength, workers);
        if (!hand.reserve(w)) continue;
        const ok = writers[w].addFrom(
          buffer,
          i * SLOT_BYTES,
          length,
          metaBytes,
          textAt,
          textLength,
          meta[at + 1],
          now,
        );
        if (!ok) hand.unreserve(w); // the ring is full: the worker is that far behind
      }
      hand.received(n, bytes, now);
    }
    // Every read is published at once (an awake worker finds it; a sleeping one is woken now or,
    // if it was woken very recently, once the wake gap has passed).
    wakeIn = hand.publish(now);
    // Under load only: this read found several datagrams queued but not a full batch, so the
    // next one would too; a short nap lets one read take many. A read of one datagram means the
    // traffic is light: read again at once, so nothing waits. With nothing read and a wake
    // deferred, sleep until it is due.
    let napFor = napMs > 0 && n >= NAP_FROM && n < COALESCE_BELOW ? napMs : 0;
    if (wakeIn >= 0) napFor = n === 0 ? wakeIn / 1000 : Math.min(napFor, wakeIn / 1000);
    if (napFor > 0) Atomics.wait(nap, 0, 0, napFor);
  }
  addon.close(fd);
  return Promise.resolve(hand.end({ rcvbufBytes, socketErrors, truncated }));
}
