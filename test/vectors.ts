/**
 * The test vectors of the netconsole wire format (E1-E8; the format is described in
 * blaster/README.md), exact payload bytes and the message JSON (receiver/message-json.ts) each
 * must decode to: shared by the codec, decode command and receiver tests so the vectors are
 * written once.
 */
import type { MessageJson } from "../receiver/message-json.ts";

const flags = { contStart: false, cont: false, emg: false };

export interface WireVector {
  name: string;
  /** Raw payloads, one per datagram, as latin1 strings. */
  payloads: string[];
  /** What the message decodes to (without `source`). */
  message: MessageJson;
}

export const WIRE_VECTORS: WireVector[] = [
  {
    name: "E1 release prefix",
    payloads: ["6.4.0,6,444,501151268,-;netconsole: network logging started"],
    message: {
      kind: "extended",
      seq: 444,
      facility: 0,
      level: 6,
      tsUs: 501151268,
      flags,
      release: "6.4.0",
      text: "netconsole: network logging started",
      dict: {},
    },
  },
  {
    name: "E2 fragments",
    payloads: [
      "6,416,1758426,-,ncfrag=0/31;the first chunk,",
      "6,416,1758426,-,ncfrag=16/31; the 2nd chunk.",
    ],
    message: {
      kind: "extended",
      seq: 416,
      facility: 0,
      level: 6,
      tsUs: 1758426,
      flags,
      text: "the first chunk, the 2nd chunk.",
      dict: {},
      fragments: 2,
    },
  },
  {
    name: "E3 userdata",
    payloads: ["12,607,22085407756,-;This is a message\n foo=bar\n qux=baz\n"],
    message: {
      kind: "extended",
      seq: 607,
      facility: 1,
      level: 4,
      tsUs: 22085407756,
      flags,
      text: "This is a message",
      dict: { foo: "bar", qux: "baz" },
    },
  },
  {
    name: "E4 sysdata",
    payloads: ["13,434,54928466,-;This is message #1\n msgid=1\n"],
    message: {
      kind: "extended",
      seq: 434,
      facility: 1,
      level: 5,
      tsUs: 54928466,
      flags,
      text: "This is message #1",
      dict: { msgid: "1" },
    },
  },
  {
    name: "E5 dictionary",
    payloads: [
      "7,160,424069,-;pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A03:00\n",
    ],
    message: {
      kind: "extended",
      seq: 160,
      facility: 0,
      level: 7,
      tsUs: 424069,
      flags,
      text: "pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)",
      dict: { SUBSYSTEM: "acpi", DEVICE: "+acpi:PNP0A03:00" },
    },
  },
  {
    name: "E6 selftest capture",
    payloads: [
      "6.11.1-0_fbk0_rc13_509_g30d75cea12f7,13,1822,115075213798,-;netconsole selftest: netcons_gtJHM\n key=value",
    ],
    message: {
      kind: "extended",
      seq: 1822,
      facility: 1,
      level: 5,
      tsUs: 115075213798,
      flags,
      release: "6.11.1-0_fbk0_rc13_509_g30d75cea12f7",
      text: "netconsole selftest: netcons_gtJHM",
      dict: { key: "value" },
    },
  },
  {
    name: "E7 legacy",
    payloads: ["[   22.671488] raid6: using algorithm avx2x4 gen() 21138 MB/s"],
    message: {
      kind: "legacy",
      text: "[   22.671488] raid6: using algorithm avx2x4 gen() 21138 MB/s",
    },
  },
  {
    name: "E8 newest fragmentation",
    payloads: [
      `6.8.0,6,1234,5678901234,-,ncfrag=0/1222;${"A".repeat(960)}`,
      `6.8.0,6,1234,5678901234,-,ncfrag=960/1222;${"A".repeat(240)}\n k=v\n cpu=3\n msgid=7\n`,
    ],
    message: {
      kind: "extended",
      seq: 1234,
      facility: 0,
      level: 6,
      tsUs: 5678901234,
      flags,
      release: "6.8.0",
      text: "A".repeat(1200),
      dict: { k: "v", cpu: "3", msgid: "7" },
      fragments: 2,
    },
  },
];

/** A payload in the decode command's input form: C escapes for LF and backslash. */
export function cEscaped(payload: string): string {
  return payload.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}
