/**
 * `--transport auto`: raw where it is permitted (addon built, a raw socket opens, i.e.
 * CAP_NET_RAW, a source prefix, and a target spoofing may go to), else the socket-per-host
 * transport. Says which it picked and why, once, on stderr. Each worker decides again with the
 * same test (worker threads load transports by name), which gives the same answer on one machine.
 */

import { wirePlan } from "./raw/plan.ts";
import { rawRefusal } from "./raw/raw-transport.ts";
import { loadTransport, type TransportModule, type TransportOptions } from "./transport.ts";

export interface AutoChoice {
  name: "raw" | "socket";
  /** Why: the reason raw was refused, or what raw will do. */
  reason: string;
}

export function chooseAuto(options: TransportOptions): AutoChoice {
  const refusal = rawRefusal(options);
  if (refusal === null) {
    const plan = wirePlan(options);
    return {
      name: "raw",
      reason: `raw sockets permitted; hosts send from ${plan.prefix?.text} to ${plan.destination}`,
    };
  }
  return { name: "socket", reason: refusal.replace(/^--transport raw:? ?/, "raw unavailable: ") };
}

export const transport: TransportModule = {
  description:
    "raw where permitted (CAP_NET_RAW, native addon, source prefix), else socket; says which",
  async check(options) {
    const choice = chooseAuto(options);
    process.stderr.write(
      `netcons-bench: --transport auto picked ${choice.name} (${choice.reason})\n`,
    );
    return (await loadTransport(choice.name)).check(options);
  },
  async create(options) {
    return (await loadTransport(chooseAuto(options).name)).create(options);
  },
};
