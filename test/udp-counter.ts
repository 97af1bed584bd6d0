/**
 * A tiny stand-in for netconsd used by the scenario tests as an external target: binds
 * `--listeners` SO_REUSEPORT sockets on `--port` (dual-stack `::`), counts datagrams and
 * distinct source addresses, and on SIGTERM/SIGINT prints netconsd's exit statistics lines so
 * the runner's parser and reconciliation are exercised end to end.
 *
 * Usage: node test/udp-counter.ts --port P [--listeners N] [--bind-delay-ms MS] [--rcvbuf BYTES]
 *        [--lose-every N]
 */
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
  for (const s of sockets) s.close();
  process.exitCode = 0;
}
process.once("SIGTERM", exit);
process.once("SIGINT", exit);
