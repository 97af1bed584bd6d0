/**
 * The Kubernetes files of scenarios/kubernetes/ (no cluster is reachable here, so they are
 * checked instead): valid YAML; an Indexed Job whose completions, parallelism and NCB_SHARDS
 * agree; each pod's arguments, expanded as Kubernetes does, accepted by the real `blast` flag
 * parser and options schema as shard I of N with its own report files; the merge Job reading
 * what the pods write; a Dockerfile that copies files that exist and starts the CLI.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { resolveBlastOptions } from "../blaster/options.ts";
import { buildProgram } from "../scenarios/cli.ts";
import { type BlastFlags, blastOptionsOf } from "../scenarios/commands/blast.ts";

const DIR = new URL("../scenarios/kubernetes/", import.meta.url);
const ROOT = new URL("../", import.meta.url);

interface Container {
  name: string;
  image: string;
  command?: string[];
  args: string[];
  env?: { name: string; value: string }[];
  volumeMounts?: { name: string; mountPath: string }[];
  securityContext?: { capabilities?: { add?: string[] } };
}

interface Manifest {
  kind: string;
  metadata: { name: string };
  spec: {
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    template: {
      spec: {
        restartPolicy: string;
        containers: Container[];
        volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
      };
    };
  };
}

function documents(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(new URL(file, DIR), "utf8"));
  for (const doc of docs) assert.deepEqual(doc.errors, [], `${file}: ${doc.errors.join("; ")}`);
  return docs.map((d) => d.toJS() as Manifest);
}

/** `$(NAME)` in an argument, as Kubernetes expands it from the container's environment. */
function expand(arg: string, env: Record<string, string>): string {
  return arg.replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
}

/** The `blast` command's options for these words, through the real flag parser. */
async function blastFlags(args: string[]): Promise<BlastFlags> {
  const program = await buildProgram("blast");
  let captured: BlastFlags | null = null;
  program.commands
    .find((c) => c.name() === "blast")!
    .action((opts: BlastFlags) => {
      captured = opts;
    });
  await program.parseAsync(args, { from: "user" });
  assert.ok(captured, "the blast command did not run");
  return captured;
}

describe("Kubernetes manifests", () => {
  const [claim, job] = documents("blast-job.yaml");
  const container = job.spec.template.spec.containers[0];
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));

  it("an Indexed Job: completions = parallelism = NCB_SHARDS, pods that are not restarted", () => {
    assert.equal(claim.kind, "PersistentVolumeClaim");
    assert.equal(job.kind, "Job");
    assert.equal(job.spec.completionMode, "Indexed");
    assert.ok(job.spec.completions && job.spec.completions > 1);
    assert.equal(job.spec.parallelism, job.spec.completions);
    assert.equal(Number(env.NCB_SHARDS), job.spec.completions);
    assert.equal(job.spec.template.spec.restartPolicy, "Never");
    assert.deepEqual(container.securityContext?.capabilities?.add, ["NET_RAW"]);
  });

  it("each pod's arguments are valid blast options for shard I of N, with report files of its own", async () => {
    const n = job.spec.completions!;
    const files = new Set<string>();
    for (let i = 0; i < n; i++) {
      const podEnv = { ...env, JOB_COMPLETION_INDEX: String(i) };
      const args = container.args.map((a) => expand(a, podEnv));
      assert.doesNotMatch(args.join(" "), /\$\(/, "every $(VAR) is one the pod has");
      const opts = await blastFlags(args);
      const options = resolveBlastOptions(blastOptionsOf(opts, podEnv));
      assert.deepEqual(options.shard, { index: i, count: n });
      assert.ok(options.seed !== undefined, "all shards need one seed");
      assert.ok(options.startAt !== undefined, "all shards start together");
      assert.equal(options.allowRemote, true);
      assert.match(options.target, /\.svc\.cluster\.local:\d+$/);
      for (const file of [opts.json as string, options.truth!]) {
        assert.ok(file.startsWith("/reports/"), file);
        assert.ok(!files.has(file), `${file} written by two pods`);
        files.add(file);
      }
    }
    assert.deepEqual(container.volumeMounts, [{ name: "reports", mountPath: "/reports" }]);
    const volume = job.spec.template.spec.volumes?.find((v) => v.name === "reports");
    assert.equal(volume?.persistentVolumeClaim?.claimName, claim.metadata.name);
  });

  it("the merge Job reads every pod's report from the same volume", () => {
    const [merge] = documents("merge-job.yaml");
    const c = merge.spec.template.spec.containers[0];
    assert.equal(c.image, container.image);
    const script = c.args.join(" ");
    assert.match(script, /netcons-bench\.mjs merge \/reports\/blast-\*\.json /);
    const reportArg = container.args[container.args.indexOf("--json") + 1];
    assert.equal(reportArg, "/reports/blast-$(JOB_COMPLETION_INDEX).json");
    const volume = merge.spec.template.spec.volumes?.find((v) => v.name === "reports");
    assert.equal(volume?.persistentVolumeClaim?.claimName, claim.metadata.name);
  });

  it("the Dockerfile copies files that exist, runs the pinned Node major and starts the CLI", () => {
    const text = readFileSync(new URL("Dockerfile", DIR), "utf8");
    const copies = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      m[1].split(/\s+/),
    );
    assert.ok(copies.length > 0);
    for (const path of copies) assert.ok(existsSync(new URL(path, ROOT)), `COPY ${path}`);
    const pkg = JSON.parse(readFileSync(new URL("package.json", ROOT), "utf8"));
    const major = /\d+/.exec(pkg.devDependencies.node)![0];
    const bases = [...text.matchAll(/^FROM node:(\d+)/gm)].map((m) => m[1]);
    assert.ok(
      bases.length > 0 && bases.every((b) => b === major),
      `FROM node:${bases} vs ${major}`,
    );
    const entry = /^ENTRYPOINT \["node", "\/app\/([^"]+)"\]$/m.exec(text);
    assert.ok(entry && existsSync(new URL(entry[1], ROOT)), "ENTRYPOINT runs the CLI launcher");
  });
});
