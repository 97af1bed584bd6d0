/**
 * Sends a built batch through the transport: straight, or through the impairment plan, which
 * decides each datagram's fate (lost, duplicated, held back and sent later). A held datagram
 * keeps its own copy of its bytes, since the slab is rewritten by the next batch.
 */
import type { BatchBuilder } from "./batch-builder.ts";
import type { Counters } from "./counters.ts";
import { type ImpairmentConfig, ImpairmentPlan } from "./impairments.ts";
import type { Transport } from "./transport.ts";

export class BatchSend {
  readonly plan: ImpairmentPlan | null;
  private readonly transport: Transport;
  private readonly builder: BatchBuilder;
  private readonly counters: Counters;
  private readonly held = new Map<number, { bytes: Buffer; fragments: number }>();

  constructor(
    transport: Transport,
    builder: BatchBuilder,
    impairments: ImpairmentConfig | null,
    counters: Counters,
  ) {
    this.transport = transport;
    this.builder = builder;
    this.counters = counters;
    this.plan = impairments
      ? new ImpairmentPlan(impairments, {
          emit: (token, host, copies) => this.emit(token, host, copies),
          hold: (token) => {
            const { list, slab } = this.builder;
            const d = token - this.builder.base;
            const at = list.offset[d];
            this.held.set(token, {
              bytes: Buffer.from(slab.subarray(at, at + list.length[d])),
              fragments: list.fragments[d],
            });
          },
        })
      : null;
  }

  /** Sends the builder's current batch of `n` datagrams (or offers it to the plan). */
  send(n: number): void {
    const { list, slab, hostOf } = this.builder;
    const plan = this.plan;
    if (plan) {
      const b = this.builder;
      for (let d = 0; d < n; d++) {
        plan.offer({
          host: hostOf[d],
          index: b.indexOf[d],
          seq: b.seqOf[d],
          fragment: list.fragment[d],
          fragments: list.fragments[d],
          tracked: b.trackedOf[d] === 1,
          token: b.base + d,
        });
      }
      return;
    }
    const transport = this.transport;
    let fragmentsSent = 0;
    for (let d = 0; d < n; d++) {
      transport.send(hostOf[d], slab, list.offset[d], list.length[d]);
      if (list.fragments[d] > 1) fragmentsSent++;
    }
    this.counters.fragmentsSent += fragmentsSent;
  }

  /** Whatever the reorder plan still holds goes out now (recorded in the truth as such). */
  finish(): void {
    this.builder.base = this.builder.tokens;
    this.plan?.finish();
  }

  private emit(token: number, host: number, copies: number): void {
    const d = token - this.builder.base;
    let fragments: number;
    if (d >= 0) {
      const { list, slab } = this.builder;
      for (let c = 0; c < copies; c++)
        this.transport.send(host, slab, list.offset[d], list.length[d]);
      fragments = list.fragments[d];
    } else {
      const held = this.held.get(token)!;
      this.held.delete(token);
      for (let c = 0; c < copies; c++) this.transport.send(host, held.bytes, 0, held.bytes.length);
      fragments = held.fragments;
    }
    if (fragments > 1) this.counters.fragmentsSent += copies;
  }
}
