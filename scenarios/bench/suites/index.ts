/**
 * Every micro-benchmark suite, in the order they run. A suite appears here only once the module
 * it measures exists: no stand-ins.
 */
import type { Suite } from "../suite.ts";
import { blasterSuite } from "./blaster.ts";
import { codecSuite } from "./codec.ts";
import { histogramSuite } from "./histogram.ts";
import { reassemblySuite } from "./reassembly.ts";
import { receiverSuite } from "./receiver.ts";
import { sequenceSuite } from "./sequence.ts";

export const SUITES: readonly Suite[] = [
  codecSuite,
  reassemblySuite,
  sequenceSuite,
  histogramSuite,
  receiverSuite,
  blasterSuite,
];
