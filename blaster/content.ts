/**
 * What the simulated hosts log, as options: message format, size, stamp, sysdata, userdata,
 * caller ids, first seqs and the storm share. The corpus (blaster/packed-corpus.ts), the
 * per-host state (blaster/host-table.ts) and the writer (blaster/message-writer.ts) read them.
 */

export type Format = "extended" | "legacy" | "mixed";
export type SizeSpec =
  | { kind: "realistic" }
  | { kind: "fixed"; bytes: number }
  | { kind: "range"; min: number; max: number };

export interface SysdataFields {
  cpu: boolean;
  taskname: boolean;
  release: boolean;
  msgid: boolean;
}

export interface ContentOptions {
  seed: number;
  /** All hosts of the run. */
  hosts: number;
  format: Format;
  size: SizeSpec;
  /** Put the latency stamp (blaster/stamp.ts) at the start of each message's text. */
  stamp: boolean;
  /** Prefix extended payloads with the kernel release (netconsole's `r` flag). */
  releasePrefix: boolean;
  sysdata: SysdataFields;
  userdata: [string, string][];
  /** Add `,caller=T<pid>` / `C<cpu>` (CONFIG_PRINTK_CALLER). */
  caller: boolean;
  /** First seq of every host, or "random" (per host, from the seed). */
  startSeq: number | "random";
  /** Share of hosts that panic in storm mode (0 = none). */
  stormShare: number;
}

export const NO_SYSDATA: SysdataFields = {
  cpu: false,
  taskname: false,
  release: false,
  msgid: false,
};
