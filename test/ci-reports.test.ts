/**
 * The CI reports (scenarios/ci-reports.ts) as a CI system would read them: a real scenario run
 * through the CLI (our receiver on loopback, one passing and one failing threshold per point)
 * writes --junit and --summary-md, and the XML is parsed back with an XML parser; plus the
 * escaping of hostile text (markup, quotes, control bytes from a netconsole message); and the
 * example GitHub Actions workflows pass only options the commands really have.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { XMLParser } from "fast-xml-parser";
import { parse as parseYaml } from "yaml";
import { junitXml, markdownSummary } from "../scenarios/ci-reports.ts";
import { buildProgram } from "../scenarios/cli.ts";

const launcher = new URL("../scenarios/netcons-bench.mjs", import.meta.url).pathname;
const WORKFLOWS = new URL("../.github/workflows", import.meta.url).pathname;

interface JunitCase {
  "@name": string;
  "@classname": string;
  failure?: { "@message": string };
  error?: { "@message": string };
}

function parseJunit(xml: string) {
  const parsed = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "@",
    isArray: (name) => name === "testcase",
  }).parse(xml) as {
    testsuites: {
      "@tests": string;
      "@failures": string;
      "@errors": string;
      testsuite: { "@name": string; testcase: JunitCase[] };
    };
  };
  return parsed.testsuites;
}

describe("scenario run --junit and --summary-md", () => {
  it("a real run's thresholds become JUnit test cases and a Markdown summary", () => {
    const dir = mkdtempSync(join(tmpdir(), "ncb-ci-"));
    const scenario = join(dir, "ci.yaml");
    writeFileSync(
      scenario,
      `name: ci-check
target: { kind: receiver }
load: { duration: 1s, rate: 2000, hosts: 8, seed: 3 }
plan: { kind: sweep, grid: { workers: [1, 2] } }
thresholds: ["loss.packets == 0", "sent.packets < 0"]
`,
    );
    const junit = join(dir, "junit.xml");
    const md = join(dir, "summary.md");
    const r = spawnSync(
      process.execPath,
      [
        launcher,
        "run",
        scenario,
        "--out-dir",
        join(dir, "out"),
        "--junit",
        junit,
        "--summary-md",
        md,
      ],
      { encoding: "utf8", timeout: 90_000 },
    );
    assert.equal(r.status, 99, `a threshold fails on purpose: ${r.stderr}`);

    const suites = parseJunit(readFileSync(junit, "utf8"));
    assert.equal(suites["@tests"], "4");
    assert.equal(suites["@failures"], "2");
    assert.equal(suites["@errors"], "0");
    const cases = suites.testsuite.testcase;
    assert.deepEqual(
      cases.map((c) => [c["@classname"], c["@name"], c.failure !== undefined]),
      [
        ["ci-check / workers=1", "loss.packets == 0", false],
        ["ci-check / workers=1", "sent.packets < 0", true],
        ["ci-check / workers=2", "loss.packets == 0", false],
        ["ci-check / workers=2", "sent.packets < 0", true],
      ],
    );
    assert.match(cases[1].failure!["@message"], /^sent\.packets < 0: FAILED \([\d,]+\)/);

    const summary = readFileSync(md, "utf8");
    assert.match(summary, /^### netcons-bench run ci-check: ❌ failed\n\n4 checks, 2 failed\./);
    // The figures table has one row per point, with a delivered rate in the shared format.
    assert.match(summary, /\| point \| delivered \| offered \| lost by the target \| p99 \|/);
    assert.match(summary, /\n\| workers=1 \| [\d,.]+\/s \| [\d,.]+\/s \| \d+ \(/);
    // Failed checks come first.
    const checks = summary.split("\n").filter((l) => /^\| (✅|❌)/.test(l));
    assert.deepEqual(
      checks.map((l) => l.startsWith("| ❌")),
      [true, true, false, false],
    );
  });
});

describe("escaping", () => {
  const hostile = 'kernel: <b>&"quoted"\u0001\u001b[31m | piped\nnext line';
  const report = {
    title: "netcons-bench run x&y",
    cases: [
      { group: "g<1>", name: hostile, pass: false, message: hostile },
      { group: "g", name: "ok", pass: true, message: "fine" },
    ],
    error: hostile,
  };

  it("JUnit XML parses back to the same text, control bytes replaced", () => {
    const xml = junitXml(report);
    assert.doesNotMatch(xml, /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
    const suites = parseJunit(xml);
    assert.equal(suites["@tests"], "3");
    assert.equal(suites["@failures"], "1");
    assert.equal(suites["@errors"], "1");
    const [bad, , run] = suites.testsuite.testcase;
    const expected = hostile.replace(/[\u0001\u001b]/g, "\ufffd");
    assert.equal(bad["@classname"], "g<1>");
    assert.equal(bad["@name"].replace(/\s+/g, " "), expected.replace(/\s+/g, " "));
    assert.equal(run.error?.["@message"].replace(/\s+/g, " "), expected.replace(/\s+/g, " "));
    assert.equal(suites.testsuite["@name"], "netcons-bench run x&y");
  });

  it("Markdown keeps each check on one table row (pipes escaped, newlines joined)", () => {
    const md = markdownSummary(report);
    const row = md.split("\n").find((l) => l.startsWith("| ❌"));
    assert.ok(row);
    assert.equal(row.split(/(?<!\\)\|/).length, 6, `four cells: ${row}`);
    assert.match(row, /\\\| piped next line/);
  });
});

describe("the example GitHub Actions workflows", () => {
  /** Every `--option` a workflow step passes to `npm run bench --` or `npm run cli -- run`. */
  function optionsUsed(command: "bench" | "run"): Set<string> {
    const marker = command === "bench" ? "npm run bench --" : "npm run cli -- run";
    const used = new Set<string>();
    for (const name of readdirSync(WORKFLOWS)) {
      const workflow = parseYaml(readFileSync(join(WORKFLOWS, name), "utf8")) as {
        jobs: Record<string, { steps: { run?: string }[] }>;
      };
      for (const job of Object.values(workflow.jobs)) {
        for (const step of job.steps) {
          if (!step.run?.includes(marker)) continue;
          for (const m of step.run.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)) used.add(m[0]);
        }
      }
    }
    return used;
  }

  for (const command of ["bench", "run"] as const) {
    it(`pass only options that \`${command}\` has`, async () => {
      const program = await buildProgram(command);
      const known = new Set(
        program.commands.find((c) => c.name() === command)!.options.map((o) => o.long),
      );
      const used = optionsUsed(command);
      assert.ok(used.size > 0, `a workflow runs ${command}`);
      assert.deepEqual(
        [...used].filter((o) => !known.has(o)),
        [],
        `options the CLI does not have (known: ${[...known].join(" ")})`,
      );
    });
  }

  it("never build netconsd (it is given as a path or an artifact)", () => {
    for (const name of readdirSync(WORKFLOWS)) {
      const text = readFileSync(join(WORKFLOWS, name), "utf8");
      assert.doesNotMatch(text, /\b(cmake|make|gcc|clang|git clone)\b/, name);
    }
  });
});

describe("bench --junit and --summary-md", () => {
  it("a real bench run against a baseline: one test case per figure, a regression fails", () => {
    const dir = mkdtempSync(join(tmpdir(), "ncb-ci-bench-"));
    const bench = (...args: string[]) =>
      spawnSync(
        process.execPath,
        [launcher, "bench", "--quick", "--filter", "histogram", "--no-e2e", ...args],
        { encoding: "utf8", timeout: 90_000 },
      );
    const baseline = join(dir, "baseline.json");
    assert.equal(bench("--save", baseline).status, 0);
    // The baseline claims the absolute figure was 1000 times faster: a regression beyond any
    // --quick margin.
    const saved = JSON.parse(readFileSync(baseline, "utf8")) as {
      measurements: { name: string; kind: string; value: number }[];
    };
    const inflated = saved.measurements.find((m) => m.kind === "absolute");
    assert.ok(inflated);
    inflated.value *= 1000;
    writeFileSync(baseline, JSON.stringify(saved));

    const junit = join(dir, "bench.xml");
    const md = join(dir, "bench.md");
    const r = bench(
      "--baseline",
      baseline,
      "--gate",
      "absolute",
      "--junit",
      junit,
      "--summary-md",
      md,
    );
    assert.equal(r.status, 99, r.stderr);

    const suites = parseJunit(readFileSync(junit, "utf8"));
    const cases = suites.testsuite.testcase;
    assert.deepEqual(
      cases.map((c) => c["@name"]).sort(),
      saved.measurements.map((m) => m.name).sort(),
    );
    assert.deepEqual(
      cases.filter((c) => c.failure).map((c) => c["@name"]),
      [inflated.name],
    );
    assert.equal(suites["@failures"], "1");
    assert.match(cases.find((c) => c.failure)!.failure!["@message"], /^regression: /);

    const summary = readFileSync(md, "utf8");
    assert.match(summary, /^### netcons-bench bench: ❌ failed\n/);
    assert.ok(summary.includes(`| ❌ FAIL | histogram | ${inflated.name} | regression:`));
    assert.match(summary, /--quick: .* margins reach/);
  });
});
