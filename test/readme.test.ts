import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { it } from "node:test";
import { README, renderReadme } from "../scenarios/readme.ts";

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
