/**
 * Builds one batch of a shard's datagrams: picks the hosts (round-robin over the shard, or the
 * storm's hosts while a storm runs), has the MessageWriter write their next messages into one
 * reusable slab, and records per datagram what the send step needs (host, seq, the host's
 * datagram index, whether it is tracked, its intended send time). No allocation per datagram.
 */
import type { Counters } from "./counters.ts";
import type { HostTable } from "./host-table.ts";
import { type DatagramList, datagramList, type MessageWriter } from "./message-writer.ts";
import type { Pacer } from "./pacing.ts";
import type { Storm } from "./storm.ts";

/** Largest message (bytes, all fragments) the slab must hold at its end. */
const MESSAGE_ROOM = 80_000;
const SLAB_BYTES = 1 << 20;

export class BatchBuilder {
  readonly slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  readonly list: DatagramList;
  readonly hostOf: Int32Array;
  readonly seqOf: Float64Array;
  readonly indexOf: Float64Array;
  readonly trackedOf: Uint8Array;
  readonly intendedOf: Float64Array;
  /** Token (run-wide datagram number) of the batch's first datagram. */
  base = 0;
  /** Hosts that have not gone silent. */
  liveHosts: number;
  private token = 0;
  private next = 0; // round-robin position in the shard
  private readonly hosts: HostTable;
  private readonly writer: MessageWriter;
  private readonly countDatagrams: boolean;

  /** `batch`: datagrams asked per batch (one message's fragments may add a few more). */
  constructor(hosts: HostTable, writer: MessageWriter, batch: number, countDatagrams: boolean) {
    this.hosts = hosts;
    this.writer = writer;
    this.countDatagrams = countDatagrams;
    this.liveHosts = hosts.count;
    const max = batch + 128;
    this.list = datagramList(max);
    this.hostOf = new Int32Array(max);
    this.seqOf = new Float64Array(max);
    this.indexOf = new Float64Array(max);
    this.trackedOf = new Uint8Array(max);
    this.intendedOf = new Float64Array(max);
  }

  /** The token the next batch starts at (the tokens given out so far). */
  get tokens(): number {
    return this.token;
  }

  /**
   * Writes up to `due` datagrams (whole messages, so a fragmented one may pass `due`) and at
   * most `maxMessages - counters.messages` messages. Their intended time: the storm's start
   * during a storm, the pacer's slot time when paced, else `nowUs`. Counts messages and
   * datagrams in `counters`; returns the datagrams in the batch.
   */
  fill(
    due: number,
    maxMessages: number,
    nowUs: number,
    storm: Storm,
    pacer: Pacer | null,
    clock: () => number,
    counters: Counters,
  ): number {
    const { hosts, writer, list, slab } = this;
    list.count = 0;
    this.base = this.token;
    let at = 0;
    while (list.count < due && counters.messages < maxMessages && at < SLAB_BYTES - MESSAGE_ROOM) {
      const storming = storm.active;
      let j: number;
      if (storming) {
        j = storm.nextHost();
        if (j < 0) {
          // Every storm host has finished its panic: normal traffic resumes where its schedule
          // paused, without a catch-up burst.
          pacer?.resume(clock());
          break;
        }
      } else {
        j = this.next;
        this.next = j + 1 === hosts.count ? 0 : j + 1;
      }
      if (hosts.isDead(j)) continue;
      const intended = storming ? storm.atUs : pacer ? pacer.intendedUs() : nowUs;
      const before = list.count;
      at = writer.write(hosts, j, intended, slab, at, list);
      const added = list.count - before;
      if (added === 0) {
        // The host has just finished its panic script: it is silent from now on.
        if (hosts.isDead(j)) {
          this.liveHosts--;
          if (storming) storm.hostSilenced();
        }
        continue;
      }
      const host = hosts.host(j);
      const legacy = writer.lastLegacy;
      const seq = writer.lastSeq;
      for (let d = before; d < list.count; d++) {
        this.hostOf[d] = host;
        this.seqOf[d] = seq;
        this.indexOf[d] = this.countDatagrams ? hosts.datagrams[j]++ : 0;
        this.trackedOf[d] = legacy ? 0 : 1;
        this.intendedOf[d] = intended;
      }
      counters.messages++;
      if (legacy) counters.messagesLegacy++;
      else counters.messagesExtended++;
      if (storming) counters.stormMessages++;
      else pacer?.advance(added);
      this.token += added;
    }
    counters.datagrams += list.count;
    return list.count;
  }
}
