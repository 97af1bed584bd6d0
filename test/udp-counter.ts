/**
 * A tiny stand-in for netconsd used by the scenario tests as an external target: binds
 * `--listeners` SO_REUSEPORT sockets on `--port` (dual-stack `::`), counts datagrams and
 * distinct source addresses, and on SIGTERM/SIGINT prints netconsd's exit statistics lines so
 * the runner's parser and reconciliation are exercised end to end.
 *
 * Usage: node test/udp-counter.ts --port P [--listeners N] [--bind-delay-ms MS] [--rcvbuf BYTES]
 *        [--lose-every N] [--probe-module SO --probe-host PROGRAM]
 *
 * With --probe-module, at exit it hands what it counted to the real netconsd probe module as
 * netconsd would: it runs the probe's host program (receiver/probe/probe-host.c, which loads the
 * module and calls its handler once per message) for as many extended messages and hosts as it
 * counted, in its own environment, so the module writes its real file to $NETCONS_PROBE_OUT.
 */
import { spawnSync } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    listeners: { type: "string", default: "1" },
    "bind-delay-ms": { type: "string", default: "0" },
    // A large receive buffer keeps a busy shared machine from dropping what the tests count.
    rcvbuf: { type: "string", default: "4194304" },
    // Leave every Nth datagram uncounted: a stand-in for a candidate build that loses messages.
    "lose-every": { type: "string", default: "0" },
    "probe-module": { type: "string" },
    "probe-host": { type: "string" },
  },
});
const port = Number(values.port);
const listeners = Number(values.listeners);
if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(listeners) || listeners < 1) {
  process.stderr.write("usage: udp-counter.ts --port P [--listeners N] [--bind-delay-ms MS]\n");
  process.exit(2);
}

const loseEvery = Number(values["lose-every"]);
let seen = 0;
const perListener: number[] = new Array(listeners).fill(0);
const hosts = new Set<string>();
const sockets: Socket[] = [];

// Binding late lets the test check that the runner really waits for the port.
await new Promise((r) => setTimeout(r, Number(values["bind-delay-ms"])));
for (let i = 0; i < listeners; i++) {
  const socket = createSocket({
    type: "udp6",
    reusePort: true,
    ipv6Only: false,
    recvBufferSize: Number(values.rcvbuf),
  });
  socket.on("message", (_msg, rinfo) => {
    if (loseEvery > 0 && ++seen % loseEvery === 0) return;
    perListener[i]++;
    hosts.add(rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(port, "::", resolve));
  sockets.push(socket);
}
process.stdout.write(`udp-counter listening on [::]:${port} with ${listeners} socket(s)\n`);

function exit(): void {
  const total = perListener.reduce((a, b) => a + b, 0);
  perListener.forEach((n, i) => {
    process.stdout.write(`Exiting listener ${i} queued ${n} messages\n`);
  });
  process.stdout.write(`Total messages processed by listeners: ${total}\n`);
  process.stdout.write(`Exiting worker 0 got ${total} msgs from ${hosts.size} hosts\n`);
  process.stdout.write(`Total messages processed by workers: ${total} from ${hosts.size} hosts\n`);
  if (values["probe-module"] && total > 0) {
    const probe = spawnSync(
      values["probe-host"] ?? "probe-host",
      [
        values["probe-module"],
        "workers=1",
        `extended=${total}`,
        "legacy=0",
        `hosts=${Math.max(1, Math.min(hosts.size, total))}`,
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    );
    process.stdout.write(`probe host exited with ${probe.status ?? probe.error}\n`);
  }
  for (const s of sockets) s.close();
  process.exitCode = 0;
}
process.once("SIGTERM", exit);
process.once("SIGINT", exit);
