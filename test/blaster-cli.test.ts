/**
 * `netcons-bench blast` as a user runs it: exit codes and one-line messages for bad options,
 * the loopback safety check, a --sources prefix the socket transport cannot bind, the summary,
 * --json and --truth files, and SIGTERM mid-run.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { main } from "../scenarios/cli.ts";

const NODE = process.execPath;
const CLI = new URL("../scenarios/cli.ts", import.meta.url).pathname;

/**
 * Runs the command (`argv`: a wrapper such as capsh instead of node, see withoutRawPermission);
 * `onSeed` is called once the seed line is out (signal handlers are set).
 */
function cli(args: string[], onSeed?: (pid: number) => void, argv = [NODE, CLI, "blast", ...args]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    let told = false;
    child.stderr.on("data", (d) => {
      stderr += d;
      if (!told && onSeed && child.pid && stderr.includes("blast: seed")) {
        told = true;
        onSeed(child.pid);
      }
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The CLI's main() in this process (fast: no child per bad option), stderr captured. */
async function inProcess(args: string[]) {
  let stderr = "";
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(["node", "netcons-bench", "blast", ...args]);
    return { code, stderr };
  } finally {
    process.stderr.write = write;
    process.exitCode = undefined;
  }
}

async function sink() {
  const socket = createSocket({ type: "udp4", recvBufferSize: 4 << 20 });
  let count = 0;
  socket.on("message", () => count++);
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return { port: socket.address().port, count: () => count, close: () => socket.close() };
}

/** The error code of binding `address`, or null when it binds (then the test has nothing to check). */
function bindError(address: string): Promise<string | null> {
  const socket = createSocket(address.includes(":") ? "udp6" : "udp4");
  return new Promise((resolve) => {
    socket.once("error", (error: NodeJS.ErrnoException) => {
      socket.close();
      resolve(error.code ?? error.message);
    });
    socket.bind({ address, port: 0 }, () => socket.close(() => resolve(null)));
  });
}

/**
 * Runs the command without CAP_NET_RAW: through `capsh --drop=cap_net_raw` as root, as it is
 * otherwise. Null when that cannot be arranged here (root without capsh).
 */
function withoutRawPermission(args: string[]) {
  const command = [NODE, CLI, "blast", ...args];
  let argv = command;
  if (process.getuid?.() === 0) {
    if (spawnSync("capsh", ["--help"]).error) return null;
    const quoted = command.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    argv = ["capsh", "--drop=cap_net_raw", "--", "-c", `exec ${quoted}`];
  }
  return cli(args, undefined, argv);
}

describe("blast command", () => {
  const bad: [string[], RegExp][] = [
    [["--hosts", "0"], /--hosts.*expected an integer from 1/],
    [["--size", "huge"], /--size.*expected a size in bytes/],
    [["--format", "json"], /--format.*one of extended, legacy, mixed/],
    [["--loss", "1.5"], /--loss.*probability/],
    [["--sysdata", "cpu,colour"], /--sysdata.*cpu, taskname, release, msgid/],
    [["--target", "not a target"], /--target.*ADDRESS:PORT/],
    [["--ramp", "1000:5000", "--count", "10"], /--ramp: FROM:TO needs --duration/],
    [["--workers", "4", "--hosts", "2"], /--workers: 4 is more than --hosts 2/],
    [["--seed", "-1"], /--seed: expected an integer from 0/],
    [["-s", "1"], /unknown option '-s'/],
    [["--shard", "4/4"], /--shard: expected I\/N with 0 <= I < N/],
    [["--shard", "1/4"], /--shard: needs --seed/],
    [["--start-at", "noon"], /--start-at: expected a time as RFC 3339/],
    [["--pacing-quantum", "2s"], /--pacing-quantum: expected a duration/],
    [["--gso", "maybe"], /--gso: expected one of auto, on, off/],
    [
      ["--shards", "4"],
      /--shards is the N of an index taken from JOB_COMPLETION_INDEX, which is not set/,
    ],
    [["--shard", "1/4", "--shards", "4"], /--shard I\/N gives both/],
    [["--sources", "10.0.0.0/8", "--target", "[::1]:1514"], /IPv4 but the target/],
  ];
  for (const [args, message] of bad) {
    it(`exits 2 with a clear message: ${args.join(" ")}`, async () => {
      const r = await inProcess(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    });
  }

  it("says in one line (exit 2) that an unassigned IPv6 --sources prefix cannot be bound, and what to do", async (t) => {
    const prefix = "2001:db8:7e57::/64";
    if ((await bindError("2001:db8:7e57::1")) !== "EADDRNOTAVAIL") {
      t.skip("2001:db8:7e57::1 is bindable here (assigned, or net.ipv6.ip_nonlocal_bind=1)");
      return;
    }
    const r = await inProcess(["--transport", "socket", "--sources", prefix, "--count", "4"]);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr); // the message only: no seed line before a refusal
    assert.match(lines[0], /2001:db8:7e57::1 is not assigned on this machine \(EADDRNOTAVAIL\)/);
    assert.match(lines[0], /net\.ipv6\.ip_nonlocal_bind=1/);
    assert.match(lines[0], /--transport udp-batch/);
    assert.match(lines[0], /root with --transport raw/);
  });

  it("names the IPv4 fixes for an unassigned IPv4 prefix", async (t) => {
    if ((await bindError("198.18.0.1")) !== "EADDRNOTAVAIL") {
      t.skip("198.18.0.1 is bindable here");
      return;
    }
    const args = ["--transport", "socket", "--target", "127.0.0.1:1514", "--sources"];
    const r = await inProcess([...args, "198.18.0.0/15", "--count", "4"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /ip route add local 198\.18\.0\.0\/15 dev lo/);
    assert.match(r.stderr, /net\.ipv4\.ip_nonlocal_bind=1/);
  });

  it("--transport auto without raw permission: the fallback's unbindable prefix is one line, exit 2", async (t) => {
    if ((await bindError("2001:db8:7e57::1")) !== "EADDRNOTAVAIL") {
      t.skip("2001:db8:7e57::1 is bindable here");
      return;
    }
    const run = withoutRawPermission([
      ...["--transport", "auto", "--sources", "2001:db8:7e57::/64", "--count", "4"],
    ]);
    if (!run) {
      t.skip("running as root without capsh: cannot drop CAP_NET_RAW");
      return;
    }
    const r = await run;
    if (/auto picked raw/.test(r.stderr)) {
      t.skip("raw sockets are permitted even without CAP_NET_RAW here");
      return;
    }
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--transport auto picked socket \(raw unavailable: /);
    assert.match(r.stderr, /2001:db8:7e57::1 is not assigned on this machine/);
    assert.doesNotMatch(r.stderr, /\n\s+at |blast failed/, "no stack trace, no failed run");
  });

  it("refuses a target outside loopback without --allow-remote", async () => {
    const r = await cli(["--target", "192.0.2.10:1514", "--count", "1"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /192\.0\.2\.10:1514 is not a loopback address; pass --allow-remote/);
  });

  it("runs, prints the seed and a summary, writes --json and --truth", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ncb-blast-cli-"));
    const s = await sink();
    const json = join(dir, "report.json");
    const truth = join(dir, "truth.jsonl");
    const r = await cli([
      "--target",
      `127.0.0.1:${s.port}`,
      "--hosts",
      "5",
      "--count",
      "500",
      "--rate",
      "20k",
      "--seed",
      "99",
      "--loss",
      "2%",
      "--json",
      json,
      "--truth",
      truth,
    ]);
    s.close();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /blast: seed 99/);
    assert.match(r.stdout, /blast: seed 99, stopped by count/);
    assert.match(r.stdout, /injected: lost \d+/);
    const report = JSON.parse(readFileSync(json, "utf8"));
    for (const key of ["target", "seed", "hosts", "messages", "fragmentsSent", "durationMs"]) {
      assert.ok(key in report, key);
    }
    assert.equal(report.seed, 99);
    assert.equal(report.messages, 500);
    assert.equal(typeof report.packets.sent, "number");
    assert.equal(typeof report.packets.errors, "number");
    assert.equal(typeof report.injected.lost, "number");
    assert.equal(typeof report.injected.reordered, "number");
    assert.equal(typeof report.injected.duplicated, "number");
    assert.equal(report.rate.targetPps, 20000);
    assert.equal(typeof report.rate.achievedPps, "number");
    assert.deepEqual(Object.keys(report.expected).sort(), [
      "duplicates",
      "messagesDelivered",
      "missing",
      "outOfOrder",
    ]);
    const lines = readFileSync(truth, "utf8").trim().split("\n");
    assert.equal(lines.length, 1 + 5);
    const lost = lines.slice(1).reduce((n, l) => n + JSON.parse(l).lost.length, 0);
    assert.equal(lost, report.injected.lost);
  });

  it("--json - puts only the JSON report on stdout (the summary goes to stderr)", async () => {
    const s = await sink();
    const r = await cli([
      "-t",
      `127.0.0.1:${s.port}`,
      "-n",
      "3",
      "-c",
      "300",
      "--seed",
      "7",
      "--json",
      "-",
    ]);
    s.close();
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.kind, "blast");
    assert.equal(report.messages, 300);
    assert.equal(report.seed, 7);
    assert.match(r.stderr, /blast: seed 7, stopped by count/);
  });

  for (const flag of ["--json", "--ndjson", "--truth"]) {
    it(`${flag} into a missing directory fails before any datagram is sent (exit 2, no seed line)`, async () => {
      const s = await sink();
      const r = await cli([
        ...["-t", `127.0.0.1:${s.port}`, "-n", "3", "-c", "300", "--seed", "7"],
        ...[flag, "/nonexistent/dir/x.json"],
      ]);
      await new Promise((resolve) => setTimeout(resolve, 100)); // anything sent would be here now
      s.close();
      assert.equal(r.code, 2, r.stderr);
      assert.equal(s.count(), 0, "no datagram may be sent");
      assert.equal(
        r.stderr,
        `netcons-bench: cannot write ${flag} /nonexistent/dir/x.json: ENOENT\n`,
      );
    });
  }

  it("--ndjson writes one object per second: sent, rate, errors; - puts them alone on stdout", async () => {
    const s = await sink();
    const r = await cli([
      "-t",
      `127.0.0.1:${s.port}`,
      "-n",
      "4",
      "-d",
      "2.6s",
      "-r",
      "2000",
      "--seed",
      "3",
      "--ndjson",
      "-",
    ]);
    s.close();
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 2, r.stdout);
    for (const [i, line] of lines.entries()) {
      assert.ok(line.elapsedMs >= (i + 1) * 1000 && line.elapsedMs < (i + 2) * 1000, r.stdout);
      assert.equal(line.errors, 0);
      assert.ok(line.sent > 1000 && line.sent < 3000, r.stdout);
      assert.ok(line.ratePps > 1000 && line.ratePps < 3000, r.stdout);
    }
    assert.equal(lines[1].sentTotal, lines[0].sent + lines[1].sent);
    assert.match(r.stderr, /stopped by duration/);
  });

  it("stops on SIGTERM and still writes the summary and the JSON (exit 130)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ncb-blast-cli-"));
    const s = await sink();
    const json = join(dir, "report.json");
    const r = await cli(
      [
        "--target",
        `127.0.0.1:${s.port}`,
        "--hosts",
        "3",
        "--duration",
        "30s",
        "--rate",
        "2000",
        "--json",
        json,
      ],
      (pid) => {
        // Signal once traffic flows (startup time varies with the machine's load).
        const poll = setInterval(() => {
          if (s.count() > 0) {
            clearInterval(poll);
            process.kill(pid, "SIGTERM");
          }
        }, 20);
      },
    );
    s.close();
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stdout, /stopped by signal/);
    const report = JSON.parse(readFileSync(json, "utf8"));
    assert.equal(report.stopped, "signal");
    assert.ok(report.messages > 0 && report.durationMs < 30_000);
  });
});
