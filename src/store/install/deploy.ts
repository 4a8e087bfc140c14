import { existsSync, lstatSync, statSync } from "node:fs";
import { copyFile, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { createVenv } from "../../python/venv.js";
import { packageWheels, wheelFileOf, WHEELS_DIR } from "../../offline-package/index.js";
import type { FileSlice, SafeZip } from "../../zip/index.js";

/** A wheel of the package: its file name and where its bytes are. */
export interface PackageWheel {
  file: string;
  slice: FileSlice;
}

/**
 * Install step 3a: the package extracted into its final directory (venvs are not relocatable: no staging + move).
 * `inPlace` wheels (stored in the zip, for the builtin installer) are read from the zip later and not written out;
 * the others land in wheels/. `elsewhere` entries (an embedded runtime, already staged) are left out.
 */
export async function extractPackage(zip: SafeZip, dir: string, inPlace: ReadonlyMap<string, FileSlice> = new Map(),
  elsewhere: (p: string) => boolean = () => false): Promise<PackageWheel[]> {
  const wheels = packageWheels(zip);
  await zip.extractTo(dir, (e) => !inPlace.has(e.path) && !elsewhere(e.path));
  return wheels.map((e) => {
    const file = wheelFileOf(e.path)!;
    return { file, slice: inPlace.get(e.path) ?? { file: path.join(dir, WHEELS_DIR, file), start: 0, size: e.size } };
  });
}

/** The stored (uncompressed) wheels of the zip, by path, which the builtin installer reads in place. */
export async function storedWheels(zip: SafeZip, wheelPaths: readonly string[]): Promise<Map<string, FileSlice>> {
  const slices = new Map<string, FileSlice>();
  for (const p of wheelPaths) {
    const slice = await zip.storedSlice(p);
    if (slice !== undefined) slices.set(p, slice);
  }
  return slices;
}

/** Install step 3b: `venv/` inside the package with --without-pip (41 ms instead of 3 s), from the runner's interpreter
 * or the package's embedded runtime (`runtimeEnv`: what that runtime needs to start). */
export async function createPackageVenv(basePython: string, dir: string, runtimeEnv: Readonly<Record<string, string>> = {}): Promise<string> {
  return createVenv(basePython, path.join(dir, "venv"), runtimeEnv);
}

/** The sanitized requirements.txt kept in the venv: the record of what was installed (never the package's raw file). */
export async function recordRequirements(dir: string, requirementsText: string): Promise<void> {
  await writeFile(path.join(dir, "venv", "procvision-requirements.txt"), requirementsText);
}

/** Bytes on disk under `dir` (files only; links not followed). Sync stats: one await per file made it 5× slower. */
export async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += lstatSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/**
 * The wheels the install uses, after the SDK replacement: those of `plan.wheelFiles`, plus the runner's SDK wheel when
 * it replaces the original. Left-out wheels extracted to wheels/ are deleted and the runner's is copied there, so
 * the wheels directory holds the same set as the installer gets.
 */
export async function selectWheels(dir: string, wheels: readonly PackageWheel[], keep: readonly string[], runnerSdk: { file: string; path: string } | undefined): Promise<PackageWheel[]> {
  const wanted = new Set(keep);
  const wheelsDir = path.join(dir, WHEELS_DIR);
  const selected: PackageWheel[] = [];
  for (const wheel of wheels) {
    if (wanted.has(wheel.file)) selected.push(wheel);
    else if (path.dirname(wheel.slice.file) === wheelsDir) await rm(wheel.slice.file, { force: true });
  }
  if (runnerSdk === undefined) return selected;
  let slice: FileSlice = { file: runnerSdk.path, start: 0, size: statSync(runnerSdk.path).size };
  if (existsSync(wheelsDir)) {
    const target = path.join(wheelsDir, runnerSdk.file);
    await copyFile(runnerSdk.path, target);
    slice = { ...slice, file: target };
  }
  return [...selected, { file: runnerSdk.file, slice }];
}
