import { existsSync, lstatSync, statSync } from "node:fs";
import { copyFile, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { ErrorCode, ProcVisionError, isProcVisionError } from "../../errors/index.js";
import { createVenv, hermeticInstallEnv, installFromWheels } from "../../install/venv.js";
import { installFromWheelsUv, type InstallerChoice } from "../../install/uv.js";
import type { Requirement } from "../../requirements/index.js";
import type { FileSlice, SafeZip } from "../../safe-zip/index.js";
import { installWheels as installWheelsBuiltin } from "../../wheel-install/index.js";
import type { WheelTarget } from "../../wheel-tags/index.js";

/** A wheel of the package: its file name and where its bytes are. */
export interface PackageWheel {
  file: string;
  slice: FileSlice;
}

/**
 * Install step 3a: the package extracted into its final directory (venvs are not relocatable: no staging + move).
 * `inPlace` wheels (stored in the zip, for the builtin installer) are read from the zip later and not written out;
 * the others land in wheels/.
 */
export async function extractPackage(zip: SafeZip, dir: string, inPlace: ReadonlyMap<string, FileSlice> = new Map()): Promise<PackageWheel[]> {
  const wheels = zip.wheelFiles();
  await zip.extractTo(dir, (e) => !inPlace.has(e.path));
  return wheels.map((e) => {
    const file = e.path.slice("wheels/".length);
    return { file, slice: inPlace.get(e.path) ?? { file: path.join(dir, "wheels", file), start: 0, size: e.size } };
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

/** Install step 3b: `venv/` inside the package with --without-pip (41 ms instead of 3 s). */
export async function createPackageVenv(basePython: string, dir: string): Promise<string> {
  return createVenv(basePython, path.join(dir, "venv"));
}

export interface WheelsStep {
  basePython: string;
  venvPython: string;
  dir: string;
  /** Sanitized requirements: exactly what gets installed. */
  requirementsText: string;
  requirements: readonly Requirement[];
  installer: InstallerChoice;
  wheels: readonly PackageWheel[];
  /** METADATA of each wheel, by file name (the builtin installer resolves dependencies with it). */
  metadata: ReadonlyMap<string, string>;
  target: WheelTarget;
}

/** pip's "No matching distribution found for X" means a dependency (often a transitive one) has no wheel: 2004. */
function missingDistribution(message: string): string | undefined {
  return /No matching distribution found for ([^\s]+)/.exec(message)?.[1] ?? /Because ([^\s]+) was not found/.exec(message)?.[1];
}

/** Install step 3c: the pinned requirements from wheels/ only: no index, no network, no host configuration. */
export async function installWheels(step: WheelsStep): Promise<void> {
  // Kept in the venv: the record of what was installed, and what pip/uv read (never the package's raw file).
  const requirementsFile = path.join(step.dir, "venv", "procvision-requirements.txt");
  await writeFile(requirementsFile, step.requirementsText);
  const install = { venvPython: step.venvPython, wheelsDir: path.join(step.dir, "wheels"), requirementsFile };
  if (step.installer.kind === "builtin") {
    await installWheelsBuiltin({
      venvPython: step.venvPython, requirements: step.requirements, wheels: step.wheels, metadata: step.metadata, target: step.target, env: hermeticInstallEnv(),
    });
    return;
  }
  try {
    if (step.installer.kind === "uv") await installFromWheelsUv(step.installer.uv, install);
    else await installFromWheels({ ...install, basePython: step.basePython });
  } catch (err) {
    const missing = isProcVisionError(err) ? missingDistribution(err.message) : undefined;
    if (missing !== undefined) {
      throw new ProcVisionError(ErrorCode.wheels_missing, `the package has no wheel for ${missing}, which a requirement depends on`, {
        hint: "add it to requirements.txt (pinned) and rebuild the package with procvision-cli package", cause: err,
      });
    }
    throw err;
  }
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
 * pip/uv, which read the directory, see the same set as the builtin installer.
 */
export async function selectWheels(dir: string, wheels: readonly PackageWheel[], keep: readonly string[], runnerSdk: { file: string; path: string } | undefined): Promise<PackageWheel[]> {
  const wanted = new Set(keep);
  const wheelsDir = path.join(dir, "wheels");
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
