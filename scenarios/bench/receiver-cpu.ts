/**
 * CPU cost per datagram of the receiver, a figure that survives a busy machine better than a
 * throughput search: the receiver runs as a child process (`netcons-bench receive`), the blaster
 * here sends a fixed number of 64-byte extended messages at a modest rate, and the child's CPU
 * time (utime + stime from /proc/PID/stat) is divided by the datagrams it processed. The same is
 * done for a bare Node.js dgram socket that only counts, as the floor any Node receiver pays.
 *
 *   npm run bench:receiver-cpu -- [--count 300000] [--rate 30000] [--configs 1x1,2x2] [--hosts 1000]
 *     [--batch-delays 0,1] [--listener-kinds native,dgram] [--rounds 1]
 *
 * Listener kinds and rounds are interleaved (config, delay, then each kind in turn, round after
 * round), so both read paths see the same machine state.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { runBlast } from "../../blaster/blast.ts";
import { type Child, cpuUs, startChild, startReceiveChild, threadCpuUs } from "./receiver-child.ts";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "300000" },
    rate: { type: "string", default: "30000" },
    configs: { type: "string", default: "1x1,2x2" },
    hosts: { type: "string", default: "1000" },
    "batch-delays": { type: "string", default: "1" },
    "listener-kinds": { type: "string", default: "auto" },
    rounds: { type: "string", default: "1" },
  },
});

const BARE = `const d=require("node:dgram");const s=d.createSocket({type:"udp4",recvBufferSize:4e6});
let n=0;s.on("message",()=>{n++});s.bind(Number(process.argv[1]),"127.0.0.1",()=>console.error("listening on [127.0.0.1]:"+s.address().port));
process.on("SIGINT",()=>{console.log(JSON.stringify({packets:{received:n}}));process.exit(0)});`;

async function measure(name: string, child: Child): Promise<void> {
  const port = child.port;
  const before = cpuUs(child.pid);
  const threadsBefore = threadCpuUs(child.pid);
  const blast = await runBlast({
    target: `127.0.0.1:${port}`,
    hosts: Number(values.hosts),
    count: Number(values.count),
    rate: Number(values.rate),
    format: "extended",
    size: 64,
    seed: 5,
  });
  await sleep(1000);
  const after = cpuUs(child.pid);
  const threadsAfter = threadCpuUs(child.pid);
  const report = (await child.stop()) as {
    packets: { received: number };
    perListener?: { batches: number }[];
  };
  const received: number = report.packets.received;
  const us = (after - before) / received;
  const batches = (report.perListener ?? []).reduce(
    (n: number, l: { batches: number }) => n + l.batches,
    0,
  );
  console.log(
    `${name}: ${received} of ${blast.packets.sent} datagrams, CPU ${(after - before) / 1e6} s ` +
      `= ${us.toFixed(2)} us/datagram (about ${Math.round(1e6 / us)} datagrams per CPU-second)` +
      (batches ? `, ${(received / batches).toFixed(1)} datagrams per batch` : ""),
  );
  // Per thread, busiest first (in a receive child: the listeners, then the workers).
  const rows = [...threadsAfter]
    .map(([id, t]) => ({ ...t, us: (t.us - (threadsBefore.get(id)?.us ?? 0)) / received }))
    .filter((t) => t.us >= 0.05)
    .sort((a, b) => b.us - a.us);
  for (const t of rows)
    console.log(`    thread ${t.name.padEnd(14)} ${t.us.toFixed(2)} us/datagram`);
}

await measure("bare dgram socket", await startChild(["-e", BARE, "0"]));
for (let round = 1; round <= Number(values.rounds); round++) {
  for (const config of values.configs.split(",")) {
    for (const delay of values["batch-delays"].split(",")) {
      for (const kind of values["listener-kinds"].split(",")) {
        const [l, w] = config.split("x").map(Number);
        const child = await startReceiveChild("127.0.0.1", l, w, [
          ...["--batch-delay", `${delay}ms`, "--listener", kind],
        ]);
        await measure(
          `round ${round}: receive -l${l} -w${w} --batch-delay ${delay}ms --listener ${kind}`,
          child,
        );
      }
    }
  }
}
