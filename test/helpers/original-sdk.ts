import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./python.js";

const run = promisify(execFile);
const cache = path.join(repoRoot, ".cache");
const wheels = path.join(cache, "wheels");

/** A released version of the original ProcVision SDK (contract §5a): 0.0.7 is the last G1 release, 0.3.2 the last G3. */
export type OriginalVersion = "0.0.7" | "0.3.2";

/** The original wheel in .cache/wheels, downloaded from PyPI the first time (into a temp dir, then moved: no half files). */
async function originalWheel(version: OriginalVersion): Promise<string> {
  const name = `procvision_algorithm_sdk-${version}-py3-none-any.whl`;
  const file = path.join(wheels, name);
  if (existsSync(file)) return file;
  mkdirSync(wheels, { recursive: true });
  const tmp = mkdtempSync(path.join(cache, "original-download-"));
  try {
    await run("python3", ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", `procvision_algorithm_sdk==${version}`, "-d", tmp]);
    const got = readdirSync(tmp).find((f) => f.endsWith(".whl"));
    if (!got) throw new Error(`pip download of procvision_algorithm_sdk==${version} gave no wheel`);
    renameSync(path.join(tmp, got), file);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return file;
}

/**
 * A venv with the original SDK (and its numpy/Pillow from .cache/wheels, no network) installed, made once and reused:
 * built in a temp dir and renamed into place, so concurrent test files never see a half-made venv.
 */
export async function originalSdkPython(version: OriginalVersion): Promise<string> {
  const dir = path.join(cache, `original-sdk-${version}`);
  const python = path.join(dir, "bin", "python");
  if (existsSync(path.join(dir, "ready"))) return python;
  await originalWheel(version);
  const tmp = mkdtempSync(path.join(cache, `original-sdk-${version}-`));
  try {
    await run("python3", ["-m", "venv", tmp]);
    await run(path.join(tmp, "bin", "python"), ["-m", "pip", "install", "--disable-pip-version-check", "--no-index", "--find-links", wheels,
      `procvision_algorithm_sdk==${version}`]);
    writeFileSync(path.join(tmp, "ready"), "");
    try {
      renameSync(tmp, dir);
    } catch {
      // Another test file made it first; theirs is as good.
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return python;
}

/** Runs the original `procvision-cli` (its own argparse main) with the original SDK's interpreter. */
export async function originalCli(version: OriginalVersion, args: readonly string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  const python = await originalSdkPython(version);
  return run(python, ["-c", "import sys; sys.argv[0] = 'procvision-cli'; from procvision_algorithm_sdk.cli import main; main()", ...args], { cwd });
}
