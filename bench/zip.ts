// Offline package zips for the bench sections, built with the product's own buildOfflineZip (as test/helpers/store.ts
// does for the store tests): a project directory + real wheels + pinned requirements + this machine's target env.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { buildOfflineZip, collectProjectFiles } from "../src/offline-package/index.js";
import { bundledSdkWheel } from "../src/sdk-bundle.js";

export const LOCAL_ENV = { python_version: "3.11", implementation: "cp", abi: "cp311", wheels_platform: ["manylinux_2_17_x86_64"] };

function findWheel(root: string, prefix: string): string | undefined {
  for (const dir of [path.join(root, ".cache", "wheels"), path.join(root, "dist", "sdk")]) {
    const found = existsSync(dir) ? readdirSync(dir).find((f) => f.startsWith(prefix) && f.endsWith(".whl") && !f.includes("win")) : undefined;
    if (found) return path.join(dir, found);
  }
  return undefined;
}

/**
 * A wheel in .cache/wheels (or dist/sdk) whose file name starts with `prefix`. When missing (a fresh clone) it is
 * downloaded once into .cache/wheels with `pip download requirement` for this machine's python3, as
 * scripts/test-python.ts does for the tests' wheels.
 */
export function cachedWheel(root: string, prefix: string, requirement: string): string {
  const cached = findWheel(root, prefix);
  if (cached) return cached;
  const wheels = path.join(root, ".cache", "wheels");
  mkdirSync(wheels, { recursive: true });
  // pip's progress on stderr: the bench's stdout is its report.
  execFileSync("python3", ["-m", "pip", "download", "--only-binary=:all:", "--no-deps", "-d", wheels, requirement], { stdio: ["ignore", 2, 2] });
  const downloaded = findWheel(root, prefix);
  if (!downloaded) throw new Error(`pip download ${requirement} gave no wheel ${prefix}* (the bench's wheels are for CPython 3.11 on x86_64 Linux)`);
  return downloaded;
}

export const sdkWheel = (): string => bundledSdkWheel().path;
/** `procvision_algorithm_sdk==<bundled version>`, the pin every bench package carries. */
export const sdkPin = (): string => `procvision_algorithm_sdk==${bundledSdkWheel().version}`;
export const numpyWheel = (root: string): string => cachedWheel(root, "numpy-2.2.6-cp311-cp311-manylinux", "numpy==2.2.6");

export async function packageZip(o: { projectDir: string; wheels: string[]; requirements: string; outPath: string }): Promise<string> {
  await buildOfflineZip({
    outPath: o.outPath,
    projectFiles: (await collectProjectFiles(o.projectDir)).files,
    wheelFiles: o.wheels.map((w) => ({ path: `wheels/${path.basename(w)}`, absPath: w })),
    extraEntries: [
      { path: "requirements.txt", data: Buffer.from(o.requirements) },
      { path: ".procvision_env.json", data: Buffer.from(JSON.stringify(LOCAL_ENV)) },
    ],
  });
  return o.outPath;
}
