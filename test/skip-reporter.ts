/**
 * A node --test reporter that prints, after the run, how many tests were skipped and why (one
 * line each: file, test, reason), so a skip is never silent. `npm test` runs it next to the
 * usual spec reporter. Capability skips come from test/capabilities.ts ("needs tcpdump: ...").
 */
import { relative } from "node:path";

interface TestEvent {
  type: string;
  data: { name?: string; file?: string; skip?: string | boolean; nesting?: number };
}

export default async function* skipReporter(
  source: AsyncIterable<TestEvent>,
): AsyncGenerator<string> {
  const skips: string[] = [];
  for await (const event of source) {
    if (event.type !== "test:pass" && event.type !== "test:fail") continue;
    const { skip, name, file } = event.data;
    if (skip === undefined || skip === false) continue;
    const where = file === undefined ? "" : `${relative(process.cwd(), file)}: `;
    skips.push(`  - ${where}${name}${typeof skip === "string" ? ` (${skip})` : ""}`);
  }
  if (skips.length === 0) {
    yield "\nskipped: none\n";
    return;
  }
  yield `\nSKIPPED ${skips.length} (tests or groups; set NCB_REQUIRE to make a capability's skip a failure):\n${skips.join("\n")}\n`;
}
