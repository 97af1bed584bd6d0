/**
 * The conventions every command shares, through the real CLI in a child process: one-line
 * errors prefixed `netcons-bench:` with exit 2 for usage mistakes, stacks only with --debug or
 * NCB_DEBUG=1, the version words, the message for an unsupported Node, verdict colour with
 * NO_COLOR honoured, and the loud skips of test/capabilities.ts (a nested `node --test` without
 * the parent's NODE_TEST_CONTEXT, so that it runs its own reporters).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import semver from "semver";
import { bytes, count, durationUs, percent, rate } from "../scenarios/format.ts";

const launcher = new URL("../scenarios/netcons-bench.mjs", import.meta.url).pathname;
const root = new URL("..", import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string;
  engines: { node: string };
};

function cli(args: string[], env: NodeJS.ProcessEnv = {}, node = process.execPath) {
  const clean = {
    ...process.env,
    NCB_DEBUG: undefined,
    NO_COLOR: undefined,
    FORCE_COLOR: undefined,
  };
  return spawnSync(node, [launcher, ...args], {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...clean, ...env },
  });
}

/** stderr is exactly one line `netcons-bench: ...` matching `pattern`. */
function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, 1, `one line expected, got:\n${stderr}`);
  assert.match(lines[0], /^netcons-bench: /);
  assert.match(lines[0], pattern);
}

describe("errors", () => {
  const mistakes: [string[], RegExp][] = [
    [
      ["blast", "--no-such-flag"],
      /unknown option '--no-such-flag' \(see netcons-bench blast --help\)/,
    ],
    [["blast", "--rate", "lots"], /--rate.*lots/],
    [["receive", "--port", "70000"], /--port/],
    [["decode", "/nonexistent/ncb-input"], /\/nonexistent\/ncb-input/],
    [["no-such-command"], /unknown command 'no-such-command'/],
  ];
  for (const [args, pattern] of mistakes) {
    it(`${args.join(" ")}: one line with the program's name, exit 2, nothing on stdout`, () => {
      const r = cli(args);
      assert.equal(r.status, 2, r.stderr);
      assertOneLine(r.stderr, pattern);
      assert.equal(r.stdout, "");
    });
  }

  it("--debug anywhere on the line, or NCB_DEBUG=1, adds the stack; without them there is none", () => {
    const plain = cli(["decode", "/nonexistent/ncb-input"]);
    assert.doesNotMatch(plain.stderr, /\n\s+at /);
    for (const r of [
      cli(["decode", "/nonexistent/ncb-input", "--debug"]),
      cli(["--debug", "decode", "/nonexistent/ncb-input"]),
      cli(["decode", "/nonexistent/ncb-input"], { NCB_DEBUG: "1" }),
    ]) {
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^netcons-bench: .*ncb-input/);
      assert.match(r.stderr, /\n\s+at .*decode\.ts/, "the stack names the code that threw");
    }
  });
});

describe("errors nothing caught", () => {
  // The program's own handlers (scenarios/cli.ts handleUncaught), in a child process: a socket
  // callback or a forgotten promise that throws ends the run with one line and exit 1.
  const program = (kind: "throw" | "reject") => `
    import { handleUncaught } from ${JSON.stringify(join(root, "scenarios/cli.ts"))};
    handleUncaught();
    setTimeout(() => { ${kind === "throw" ? "throw new Error" : "Promise.reject(new Error"}("socket went away\\nsecond line")${kind === "throw" ? "" : ")"}; }, 10);
  `;
  for (const kind of ["throw", "reject"] as const) {
    it(`an uncaught ${kind}: one line, exit 1; the stack only with NCB_DEBUG=1`, () => {
      const run = (env: NodeJS.ProcessEnv) =>
        spawnSync(process.execPath, ["--input-type=module", "-e", program(kind)], {
          encoding: "utf8",
          timeout: 30_000,
          env: { ...process.env, NCB_DEBUG: undefined, ...env },
        });
      const plain = run({});
      assert.equal(plain.status, 1, plain.stderr);
      assert.equal(plain.stderr, "netcons-bench: socket went away; second line\n");
      const debug = run({ NCB_DEBUG: "1" });
      assert.equal(debug.status, 1);
      assert.match(
        debug.stderr,
        /^netcons-bench: socket went away; second line\nError: socket went away\n/,
      );
      assert.match(debug.stderr, /\n\s+at /);
    });
  }
});

describe("version", () => {
  for (const word of ["-V", "--version", "-v", "version"]) {
    it(`${word} prints the package's version on stdout`, () => {
      const r = cli([word]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${pkg.version}\n`);
      assert.equal(r.stderr, "");
    });
  }

  it("an unsupported Node (the system's) says which version is needed and which was found, exit 2", (t) => {
    const old = "/usr/bin/node";
    const found = existsSync(old)
      ? spawnSync(old, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout.trim()
      : "";
    if (found === "" || semver.satisfies(found, pkg.engines.node)) {
      t.skip(`no Node older than ${pkg.engines.node} at ${old} (found "${found}")`);
      return;
    }
    const r = cli(["--version"], {}, old);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, "");
    assertOneLine(r.stderr, new RegExp(`needs Node\\.js .*${semver.minVersion(pkg.engines.node)}`));
    assert.ok(r.stderr.includes(pkg.engines.node), "names the engines range");
    assert.ok(r.stderr.includes(`found v${found}`), "names the version found");
  });
});

describe("numbers for people (scenarios/format.ts)", () => {
  it("counts and rates are grouped; small rates keep three significant digits", () => {
    assert.deepEqual(
      [count(12_345), count(0), count(1.5), count(undefined), count(Number.NaN)],
      ["12,345", "0", "2", "-", "-"],
    );
    assert.deepEqual(
      [rate(12_345.4), rate(250), rate(2.5), rate(0), rate(null)],
      ["12,345/s", "250/s", "2.50/s", "0/s", "-"],
    );
  });

  it("durations from µs switch to ms and s with three significant digits", () => {
    assert.deepEqual(
      [6.333, 81.23, 812, 999.4, 999.6, 4210, 42_100, 421_000, 1.2e6, 12e6, 1234e6].map(durationUs),
      [
        "6.33 µs",
        "81.2 µs",
        "812 µs",
        "999 µs",
        "1.00 ms",
        "4.21 ms",
        "42.1 ms",
        "421 ms",
        "1.20 s",
        "12 s",
        "1,234 s",
      ],
    );
  });

  it("bytes use binary units; percentages never hide a tiny ratio", () => {
    assert.deepEqual([512, 1536, 1.5 * 2 ** 20, 2 ** 31, 3 * 2 ** 40].map(bytes), [
      "512 B",
      "1.5 KiB",
      "1.5 MiB",
      "2.0 GiB",
      "3.0 TiB",
    ]);
    assert.deepEqual([0, 1, 0.0123, 0.5, 1e-9, 12.7, -0.25].map(percent), [
      "0%",
      "100%",
      "1.23%",
      "50%",
      "<0.001%",
      "1,270%",
      "-25%",
    ]);
  });
});

describe("colour", () => {
  // A verdict through scenarios/format.ts onto a stream that says it is a colour TTY the way a
  // real one does (tty.WriteStream's own getColorDepth, which reads NO_COLOR and TERM).
  const program = `
    import { Writable } from "node:stream";
    import tty from "node:tty";
    import { verdict } from ${JSON.stringify(join(root, "scenarios/format.ts"))};
    const stream = Object.assign(new Writable(), { isTTY: true, getColorDepth: tty.WriteStream.prototype.getColorDepth });
    process.stdout.write(JSON.stringify([verdict("PASS", true, stream), verdict("FAIL", false, stream), verdict("PASS", true)]));
  `;
  const run = (env: NodeJS.ProcessEnv) => {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", program], {
      encoding: "utf8",
      env: {
        ...process.env,
        NO_COLOR: undefined,
        FORCE_COLOR: undefined,
        // Node gives a terminal only two colours when CI is set (and no known CI is named).
        CI: undefined,
        TERM: "xterm-256color",
        ...env,
      },
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as string[];
  };

  it("verdict words are green/red on a colour TTY, plain with NO_COLOR or on a pipe", () => {
    const [pass, fail, piped] = run({});
    assert.equal(pass, "\u001b[1m\u001b[32mPASS\u001b[39m\u001b[22m");
    assert.equal(fail, "\u001b[1m\u001b[31mFAIL\u001b[39m\u001b[22m");
    assert.equal(piped, "PASS", "stdout is a pipe here");
    assert.deepEqual(run({ NO_COLOR: "1" }), ["PASS", "FAIL", "PASS"]);
  });
});

describe("loud skips (test/capabilities.ts and test/skip-reporter.ts)", () => {
  const dir = mkdtempSync(join(tmpdir(), "ncb-skip-"));
  const file = join(dir, "needs.test.ts");
  writeFileSync(
    file,
    `import { test } from "node:test";
import { needs } from ${JSON.stringify(join(root, "test/capabilities.ts"))};
test("wants tcpdump", (t) => {
  if (!needs(t, "tcpdump", "pretend it is missing")) return;
  throw new Error("ran without tcpdump");
});
`,
  );
  const runTests = (env: NodeJS.ProcessEnv) =>
    spawnSync(
      process.execPath,
      [
        "--test",
        "--test-reporter=spec",
        "--test-reporter-destination=stdout",
        `--test-reporter=${join(root, "test/skip-reporter.ts")}`,
        "--test-reporter-destination=stdout",
        file,
      ],
      {
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, NCB_REQUIRE: undefined, NODE_TEST_CONTEXT: undefined, ...env },
      },
    );

  it("a missing capability skips, and the run ends with the skip counted and its reason", () => {
    const r = runTests({});
    assert.equal(r.status, 0, r.stdout);
    assert.match(
      r.stdout,
      /SKIPPED 1 .*\n\s+- .*needs\.test\.ts: wants tcpdump \(needs tcpdump: pretend it is missing\)/,
    );
  });

  it("with NCB_REQUIRE naming the capability, the same test fails", () => {
    const r = runTests({ NCB_REQUIRE: "chromium,tcpdump" });
    assert.equal(r.status, 1, r.stdout);
    assert.match(
      r.stdout,
      /tcpdump is required here \(NCB_REQUIRE=chromium,tcpdump\) but missing: pretend/,
    );
    assert.match(r.stdout, /skipped: none/);
  });
});
