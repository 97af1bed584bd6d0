/**
 * The live view of a scenario run on a TTY: one cli-progress bar for the running trial (which
 * trial, how far, current send rate, drops so far) and a line per finished trial above it.
 * Quiet when stderr is not a TTY (CI logs get the final table only).
 */
import { SingleBar } from "cli-progress";
import { count, durationUs, rate, verdict } from "./format.ts";
import { goalText, goalTitle } from "./results.ts";
import type { RunEvent } from "./runner.ts";

export function liveView(stream: NodeJS.WriteStream = process.stderr): (event: RunEvent) => void {
  if (!stream.isTTY) return () => {};
  let bar: SingleBar | null = null;
  let planned = 0;
  let done = 0;
  const stopBar = () => {
    bar?.stop();
    bar = null;
  };
  return (event) => {
    switch (event.type) {
      case "plan":
        planned = event.points;
        stream.write(
          `netcons-bench run: ${event.scenario}, plan ${event.plan} (${planned} point${planned === 1 ? "" : "s"}), seed ${event.seed ?? "chosen by the blaster"}, results in ${event.outDir}\n`,
        );
        break;
      case "trial-start":
        stopBar();
        bar = new SingleBar(
          {
            stream,
            format: `trial {trial} {label} [{bar}] {percentage}% {elapsed} | {rate} datagrams sent | drops {drops}`,
            barsize: 24,
            hideCursor: true,
            clearOnComplete: true,
            fps: 5,
          },
          undefined,
        );
        bar.start(Math.max(1, Math.round(event.durationMs / 100)), 0, {
          trial: event.trial,
          label: event.label,
          rate: rate(0),
          drops: count(0),
          elapsed: durationUs(0),
        });
        break;
      case "live":
        bar?.update(Math.round(event.live.elapsedMs / 100), {
          rate: rate(event.live.sentPps),
          drops: count(event.live.drops),
          elapsed: durationUs(event.live.elapsedMs * 1000),
        });
        break;
      case "trial-end": {
        stopBar();
        const f = event.figures;
        // the target's latency where it gives one (our receiver, or a command with {probe})
        const p99 = f.latencyUs?.endToEnd?.p99;
        const ledger = f.ledger
          ? `, ledger ${f.ledger.balanced ? "balanced" : verdict("NOT balanced", false, stream)}`
          : "";
        stream.write(
          `  trial ${f.trial} ${f.side ? `${f.side} ` : ""}${f.label}: ${rate(f.rate.achievedPps)} sent of ${rate(f.rate.targetPps)}, ${rate(f.rate.deliveredPps)} delivered, ${count(f.loss.packets)} lost, drops ${count(f.drops.total)}${p99 !== undefined ? `, p99 ${durationUs(p99)}` : ""}${ledger}${f.interrupted ? " (interrupted)" : ""}\n`,
        );
        break;
      }
      case "point-end":
        done++;
        if (event.point.search) {
          stream.write(
            `  point ${done}/${planned} ${event.point.label}: ${event.point.search.goals.map((g) => `${goalTitle(g)} ${goalText(g)}`).join("; ")} (${event.point.search.stoppedBy})\n`,
          );
        }
        break;
    }
  };
}
