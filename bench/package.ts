// Package build of ~1 GB of wheels (`package --skip-download`) against baselines measured in the same run: the same
// files zipped with every entry deflated (the original Python tool's way), `cp -r` as is (which may use
// copy_file_range or a reflink, i.e. may not copy bytes at all) and `cp -r --reflink=never` (a byte copy: the honest
// floor for a tool that must write every byte). The package command and the copies run several times, interleaved,
// every one from the same page-cache state (settle: nothing dirty, inputs read back: all warm), the order alternated
// round by round (this machine's write speed swings from run to run); min / median / max are reported, and the
// package ÷ byte-copy ratio of each round, so one lucky run of either side cannot make the headline.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { randomFillSync } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import { settle } from "./page-cache.js";
import { median } from "./stats.js";

export interface PackageBench {
  wheel_bytes: number;
  wheel_files: number;
  rounds: number;
  /** Medians over `rounds`. */
  package_s: number;
  /** The same command on the same project with one tiny wheel: start-up, interpreter probe, requirements, no bytes. */
  package_fixed_s: number;
  deflate_all_s: number;
  /** `cp -r` as is (copy_file_range; may reflink where the file system can). */
  copy_s: number;
  /** `cp -r --reflink=never`: a real byte copy. */
  copy_bytes_s: number;
  /** Every round's figures, for the spread. */
  samples: { package_s: number[]; package_fixed_s: number[]; copy_s: number[]; copy_bytes_s: number[] };
  /** package_s ÷ copy_bytes_s of each round (the two measured next to each other). */
  ratio_to_byte_copy: number[];
}

/** Incompressible files, as wheels are (already deflated inside). */
function fillWheels(dir: string, totalBytes: number): number {
  mkdirSync(dir, { recursive: true });
  // A few large wheels (torch, opencv) and many small ones, like a real vision stack.
  const sizes = [0.4, 0.25, 0.12, ...Array.from({ length: 46 }, () => 0.0048)].map((s) => Math.floor(s * totalBytes));
  const chunk = Buffer.alloc(16 * 1024 * 1024);
  sizes.forEach((size, i) => {
    const fd = openSync(path.join(dir, `pkg${String(i).padStart(2, "0")}-1.0-py3-none-any.whl`), "w");
    for (let left = size; left > 0; left -= chunk.length) writeSync(fd, randomFillSync(chunk), 0, Math.min(left, chunk.length));
    closeSync(fd);
  });
  return sizes.length;
}

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

const DEFLATE_ALL = String.raw`
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as z:
    for base, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(base, name)
            z.write(full, os.path.relpath(full, src))
`;

function makeProject(root: string, project: string, wheels: (dir: string) => number): number {
  cpSync(path.join(root, "test", "fixtures", "cli-algo"), project, { recursive: true });
  const count = wheels(path.join(project, "wheels"));
  const names = readdirSync(path.join(project, "wheels"));
  writeFileSync(path.join(project, "requirements.txt"), names.map((w) => `${w.split("-")[0]}==1.0\n`).join(""));
  return count;
}

export function benchPackage(root: string, quick: boolean): PackageBench {
  const work = mkdtempSync(path.join(tmpdir(), "pv-bench-package-"));
  try {
    const project = path.join(work, "project");
    const total = (quick ? 200 : 1024) * 1024 * 1024;
    const count = makeProject(root, project, (dir) => fillWheels(dir, total));
    const tiny = path.join(work, "tiny");
    makeProject(root, tiny, (dir) => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "pkg00-1.0-py3-none-any.whl"), randomFillSync(Buffer.alloc(1000)));
      return 1;
    });
    const wheels = readdirSync(path.join(project, "wheels"));
    const bytes = wheels.reduce((sum, w) => sum + statSync(path.join(project, "wheels", w)).size, 0);
    const inputs = [...wheels.map((w) => path.join(project, "wheels", w)), path.join(tiny, "wheels", "pkg00-1.0-py3-none-any.whl")];

    const cli = path.join(root, "dist", "bin", "procvision-cli.js");
    const out = path.join(work, "out.zip");
    const copy = path.join(work, "copy");
    const pkg = (dir: string) => () => execFileSync(process.execPath, [cli, "package", dir, "-s", "-o", out], { stdio: "ignore" });
    const cp = (...flags: string[]) => () => execFileSync("cp", ["-r", ...flags, project, copy], { stdio: "ignore" });
    const rounds = quick ? 3 : 5;
    const samples: PackageBench["samples"] = { package_s: [], package_fixed_s: [], copy_s: [], copy_bytes_s: [] };
    // Each contender starts from the same state: the previous one's output deleted and written back, the inputs warm.
    const measure = (into: number[], fn: () => void, cleanup: string) => (): void => {
      settle(inputs);
      into.push(timed(fn));
      rmSync(cleanup, { recursive: true, force: true });
    };
    const contenders = [
      measure(samples.package_s, pkg(project), out),
      measure(samples.copy_bytes_s, cp("--reflink=never"), copy),
      measure(samples.copy_s, cp(), copy),
      measure(samples.package_fixed_s, pkg(tiny), out),
    ];
    for (let round = 0; round < rounds; round++) for (const run of round % 2 === 0 ? contenders : [...contenders].reverse()) run();
    settle(inputs);
    const deflate_all_s = timed(() => execFileSync("python3", ["-c", DEFLATE_ALL, project, path.join(work, "deflated.zip")], { stdio: "ignore" }));
    rmSync(path.join(work, "deflated.zip"));
    return {
      wheel_bytes: bytes, wheel_files: count, rounds,
      package_s: median(samples.package_s), package_fixed_s: median(samples.package_fixed_s), deflate_all_s,
      copy_s: median(samples.copy_s), copy_bytes_s: median(samples.copy_bytes_s), samples,
      ratio_to_byte_copy: samples.package_s.map((p, i) => p / samples.copy_bytes_s[i]!),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function packageLines(r: PackageBench): string[] {
  const f = (n: number) => n.toFixed(2);
  const gb = (r.wheel_bytes / 2 ** 30).toFixed(2);
  const spread = (xs: readonly number[]) => `min ${f(Math.min(...xs))}, max ${f(Math.max(...xs))}`;
  const ratios = r.ratio_to_byte_copy;
  const zipping = r.package_s - r.package_fixed_s;
  return [
    `## Package build (${gb} GiB of wheels in ${r.wheel_files} files, \`package --skip-download\`, warm page cache)`,
    "",
    `Medians of ${r.rounds} interleaved rounds (min and max in brackets), each contender started from the same page-cache state ` +
      "(nothing dirty, inputs read back), the order reversed every other round; the deflate-all baseline runs once.",
    "",
    "| | seconds | vs package |",
    "|---|---|---|",
    `| \`procvision-cli package -s\` (whole command: one read per file, sha256 + CRC-32, wheels STORED) | ${f(r.package_s)} (${spread(r.samples.package_s)}) | 1.00× |`,
    `| … of which the command's fixed cost (same project, one 1 KB wheel: start-up, interpreter probe) | ${f(r.package_fixed_s)} (${spread(r.samples.package_fixed_s)}) | ${f(r.package_fixed_s / r.package_s)}× |`,
    `| Python zipfile, every entry deflated (baseline: the original tool's way) | ${f(r.deflate_all_s)} | ${f(r.deflate_all_s / r.package_s)}× |`,
    `| \`cp -r --reflink=never\` of the project (baseline: a byte copy, the floor) | ${f(r.copy_bytes_s)} (${spread(r.samples.copy_bytes_s)}) | ${f(r.copy_bytes_s / r.package_s)}× |`,
    `| \`cp -r\` of the project as is (copy_file_range; a reflink where the file system can: not necessarily a byte copy) | ${f(r.copy_s)} (${spread(r.samples.copy_s)}) | ${f(r.copy_s / r.package_s)}× |`,
    "",
    `Target ≥ 5× faster than deflate-all: ${r.deflate_all_s / r.package_s >= 5 ? "met" : "**missed**"} (${f(r.deflate_all_s / r.package_s)}×). ` +
      `Target ≤ 1.5× a byte copy (\`cp -r --reflink=never\`, not the plain \`cp -r\`, which need not copy bytes): ` +
      `${r.package_s <= 1.5 * r.copy_bytes_s ? "met" : "**missed**"} (${f(r.package_s / r.copy_bytes_s)}× of the medians; ` +
      `round by round min ${f(Math.min(...ratios))}×, median ${f(median(ratios))}×, max ${f(Math.max(...ratios))}×; ` +
      `the zip writing alone, without the fixed cost: ${f(zipping / r.copy_bytes_s)}×).`,
    "",
  ];
}
