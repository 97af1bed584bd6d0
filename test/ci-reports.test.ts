/**
 * The CI reports (scenarios/ci-reports.ts) as a CI system would read them: a real scenario run
 * through the CLI (our receiver on loopback, one passing and one failing threshold per point)
 * writes --junit and --summary-md, and the XML is parsed back with an XML parser; plus the
 * escaping of hostile text (markup, quotes, control bytes from a netconsole message).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { XMLParser } from "fast-xml-parser";
import { junitXml, markdownSummary } from "../scenarios/ci-reports.ts";

const launcher = new URL("../scenarios/netcons-bench.mjs", import.meta.url).pathname;

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
      [launcher, "run", scenario, "--out", join(dir, "out"), "--junit", junit, "--summary-md", md],
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
    assert.match(cases[1].failure!["@message"], /^sent\.packets < 0: FAILED \(\d+\)/);

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
