// The author's loop, whole processes: `validate` and `run` of one G1 project with our CLI next to the original
// ProcVision CLI 0.0.7 (`validate --full`, `run`, its adapter mode), same interpreter, same project, interleaved runs.
// The project is the one the original `init` makes; both CLIs pass it.
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { originalCli, originalVenv } from "../test/helpers/original-cli.js";
import { fmt, stats, verdict, type Stats } from "./stats.js";

const run = promisify(execFile);

export interface AuthorLoopBench {
  runs: number;
  ours: { validate_s: Stats; run_s: Stats };
  original_0_0_7: { validate_s: Stats; run_s: Stats };
}

/** Wall time of one whole process, in seconds; a failing process fails the bench (a fast failure proves nothing). */
async function timed(cmd: string, args: string[], cwd: string): Promise<number> {
  const t0 = performance.now();
  await run(cmd, args, { cwd, env: { ...process.env, PIP_CONFIG_FILE: "/dev/null" } }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`${path.basename(cmd)} ${args.join(" ")} failed: ${err.stdout ?? ""}${err.stderr ?? err.message}`);
  });
  return (performance.now() - t0) / 1000;
}

export async function benchAuthorLoop(root: string, quick: boolean): Promise<AuthorLoopBench> {
  const runs = quick ? 3 : 10;
  const python = await originalVenv("0.0.7");
  const originalBin = path.join(path.dirname(python), "procvision-cli");
  const work = mkdtempSync(path.join(tmpdir(), "pv-bench-author-"));
  try {
    const project = path.join(work, "loop-algo");
    await originalCli("0.0.7", ["init", "loop-algo", "-d", project], work);
    const image = path.join(root, "examples", "algorithm-example", "sample.png");
    const cli = path.join(root, "dist", "bin", "procvision-cli.js");
    const cases = {
      ours_validate: () => timed(process.execPath, [cli, "validate", project, "--python", python], work),
      ours_run: () => timed(process.execPath, [cli, "run", project, "--pid", "PID_TO_FILL", "--image", image, "--python", python], work),
      original_validate: () => timed(originalBin, ["validate", project, "--full"], work),
      original_run: () => timed(originalBin, ["run", project, "--pid", "PID_TO_FILL", "--image", image], work),
    };
    const samples: Record<keyof typeof cases, number[]> = { ours_validate: [], ours_run: [], original_validate: [], original_run: [] };
    execFileSync(python, ["-c", "import numpy, PIL"]); // warm the page cache for both sides alike
    for (let i = 0; i < runs + 1; i++) {
      for (const [name, once] of Object.entries(cases) as [keyof typeof cases, () => Promise<number>][]) {
        const seconds = await once();
        if (i > 0) samples[name].push(seconds); // the first round warms caches
      }
    }
    return {
      runs,
      ours: { validate_s: stats(samples.ours_validate), run_s: stats(samples.ours_run) },
      original_0_0_7: { validate_s: stats(samples.original_validate), run_s: stats(samples.original_run) },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function authorLoopLines(r: AuthorLoopBench): string[] {
  const row = (what: string, ours: Stats, original: Stats) =>
    `| ${what} | ${fmt(ours.p50)} | ${fmt(ours.p99)} | ${fmt(original.p50)} | ${fmt(original.p99)} | ${fmt(ours.p50 / original.p50)}× |`;
  const met = r.ours.validate_s.p50 <= r.original_0_0_7.validate_s.p50 && r.ours.run_s.p50 <= r.original_0_0_7.run_s.p50;
  return [
    "## The author's loop: validate and run, ours vs the original CLI 0.0.7 (whole processes)",
    "",
    `The project made by the original \`init\` (G1), the same interpreter (a venv holding the original SDK 0.0.7, numpy and Pillow) for both, runs interleaved, ${r.runs} each after one warm-up round. Ours: \`procvision-cli validate\` / \`run --pid --image\`; the original: \`validate --full\` / \`run --pid --image\` (adapter mode).`,
    "",
    "| command | ours p50 s | ours max s | original p50 s | original max s | ours / original |",
    "|---|---|---|---|---|---|",
    row("validate", r.ours.validate_s, r.original_0_0_7.validate_s),
    row("run", r.ours.run_s, r.original_0_0_7.run_s),
    "",
    `Target: not slower than the original: ${verdict(met)}.`,
    "",
  ];
}
