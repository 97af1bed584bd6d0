#!/usr/bin/env node
// The installed entry point: checks the Node version, turns on the compile cache, starts the CLI.
// Plain JavaScript that any Node parses, so that an older Node (a global `netcons-bench` started
// by the system's Node 20) gets one line naming the version needed (package.json `engines`)
// instead of a SyntaxError, and so that Node's compile cache is on before any TypeScript is
// loaded: from the second run on, no module needs Node's type stripper, which saves about 20 MB
// of RSS and start-up time. NODE_DISABLE_COMPILE_CACHE=1 turns the cache off.
import { readFileSync } from "node:fs";
import nodeModule from "node:module";
import semver from "semver";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const needed = pkg.engines.node;
if (!semver.satisfies(process.versions.node, needed)) {
  process.stderr.write(
    `netcons-bench: needs Node.js ${needed} (it runs its TypeScript directly); ` +
      `found ${process.version} at ${process.execPath}. ` +
      "Use `npm start` / `npm run cli -- ...` in the project (they run the Node it pins) or install Node 24.\n",
  );
  process.exit(2);
}
nodeModule.enableCompileCache();
const { handleUncaught, main } = await import("./cli.ts");
handleUncaught();
process.exitCode = await main(process.argv);
