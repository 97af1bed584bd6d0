/**
 * The READMEs tell the truth: the command reference is the CLI's real --help, the set-up
 * commands and the Node versions match package.json and .ci/run, links between the READMEs
 * resolve, and no document points readers outside the repository for facts the code relies on.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { it } from "node:test";
import semver from "semver";
import { README, renderReadme } from "../scenarios/readme.ts";

const root = new URL("..", import.meta.url).pathname;
const DOCS = ["README.md", "blaster/README.md", "receiver/README.md", "scenarios/README.md"];

it("the README's command reference is the real --help of every command (run `npm run readme`)", async () => {
  const current = readFileSync(README, "utf8");
  assert.equal(await renderReadme(current), current);
});

it("the README gives the two set-up commands, and .ci/run calls the same test command", () => {
  const readme = readFileSync(README, "utf8");
  assert.match(readme, /npm ci && npm start/);
  assert.match(readme, /npm ci && npm test/);
  assert.match(readFileSync(new URL("../.ci/run", import.meta.url), "utf8"), /^npm test$/m);
});

it("the README names the Node versions package.json's engines allows", () => {
  const readme = readFileSync(README, "utf8");
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    engines: { node: string };
  };
  for (const part of pkg.engines.node.split("||")) {
    const min = semver.minVersion(part.trim());
    assert.ok(min, part);
    assert.ok(
      readme.includes(`Node ${min.major}.${min.minor}`) ||
        readme.includes(`${min.major}.${min.minor} or newer`),
      `README names Node ${min.major}.${min.minor} (engines ${pkg.engines.node})`,
    );
  }
});

it("relative links between the READMEs resolve, and none points outside the repository", () => {
  for (const doc of DOCS) {
    const text = readFileSync(join(root, doc), "utf8");
    assert.doesNotMatch(text, /\.\.\/shared|shared\/[a-z-]+\.md|netconsd-notes/, doc);
    for (const m of text.matchAll(/\]\(([^)#:]+)(#[^)]*)?\)/g)) {
      const target = join(root, dirname(doc), m[1]);
      assert.ok(target.startsWith(root), `${doc}: ${m[1]} leaves the repository`);
      assert.ok(existsSync(target), `${doc}: link ${m[1]} does not exist`);
    }
  }
});
