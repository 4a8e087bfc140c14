// Package build of ~1 GB of wheels (`package --skip-download`) against two baselines measured in the same run:
// the same files zipped with every entry deflated (the original Python tool's way) and a plain `cp -r`.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { randomFillSync } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";

export interface PackageBench {
  wheel_bytes: number;
  wheel_files: number;
  package_s: number;
  deflate_all_s: number;
  copy_s: number;
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

export function benchPackage(root: string, quick: boolean): PackageBench {
  const work = mkdtempSync(path.join(tmpdir(), "pv-bench-package-"));
  try {
    const project = path.join(work, "project");
    cpSync(path.join(root, "test", "fixtures", "cli-algo"), project, { recursive: true });
    const total = (quick ? 200 : 1024) * 1024 * 1024;
    const count = fillWheels(path.join(project, "wheels"), total);
    const wheels = readdirSync(path.join(project, "wheels"));
    writeFileSync(path.join(project, "requirements.txt"), wheels.map((w) => `${w.split("-")[0]}==1.0\n`).join(""));
    const bytes = wheels.reduce((sum, w) => sum + statSync(path.join(project, "wheels", w)).size, 0);
    // Every contender reads from the page cache.
    for (const w of wheels) readFileSync(path.join(project, "wheels", w));

    const cli = path.join(root, "dist", "cli", "main.js");
    const package_s = timed(() => execFileSync(process.execPath, [cli, "package", project, "-s", "-o", path.join(work, "out.zip")], { stdio: "ignore" }));
    rmSync(path.join(work, "out.zip"));
    const deflate_all_s = timed(() => execFileSync("python3", ["-c", DEFLATE_ALL, project, path.join(work, "deflated.zip")], { stdio: "ignore" }));
    rmSync(path.join(work, "deflated.zip"));
    const copy_s = timed(() => execFileSync("cp", ["-r", project, path.join(work, "copy")], { stdio: "ignore" }));
    return { wheel_bytes: bytes, wheel_files: count, package_s, deflate_all_s, copy_s };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function packageLines(r: PackageBench): string[] {
  const f = (n: number) => n.toFixed(2);
  const gb = (r.wheel_bytes / 2 ** 30).toFixed(2);
  return [
    `## Package build (${gb} GiB of wheels in ${r.wheel_files} files, \`package --skip-download\`, warm page cache)`,
    "",
    "| | seconds | vs package |",
    "|---|---|---|",
    `| \`procvision-cli package -s\` (whole command: hashing, SHA256SUMS, wheels STORED) | ${f(r.package_s)} | 1.00× |`,
    `| Python zipfile, every entry deflated (baseline: the original tool's way) | ${f(r.deflate_all_s)} | ${f(r.deflate_all_s / r.package_s)}× |`,
    `| \`cp -r\` of the project (baseline: the floor) | ${f(r.copy_s)} | ${f(r.copy_s / r.package_s)}× |`,
    "",
    `Target ≥ 5× faster than deflate-all: ${r.deflate_all_s / r.package_s >= 5 ? "met" : "**missed**"} (${f(r.deflate_all_s / r.package_s)}×). ` +
      `Target ≤ 1.5× the plain copy: ${r.package_s <= 1.5 * r.copy_s ? "met" : "**missed**"} (${f(r.package_s / r.copy_s)}×).`,
    "",
  ];
}
