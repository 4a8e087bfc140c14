import { execFile } from "node:child_process";
import { readdir, lstat, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { ErrorCode, ProcVisionError, isProcVisionError } from "../../errors/index.js";
import { createVenv, hermeticInstallEnv, installFromWheels } from "../../install/venv.js";
import { installFromWheelsUv, type InstallerChoice } from "../../install/uv.js";
import type { SafeZip } from "../../safe-zip/index.js";

const run = promisify(execFile);

/** Install step 3a: the package extracted into its final directory (venvs are not relocatable: no staging + move). */
export async function extractPackage(zip: SafeZip, dir: string): Promise<void> {
  await zip.extractTo(dir);
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
  installer: InstallerChoice;
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

/**
 * Install step 3d: bytecode for the venv and the package's own sources (halves worker start-up). A file that does
 * not compile (packages ship such templates and tests) is not an install failure: the warning is returned.
 */
export async function compileBytecode(venvPython: string, dir: string): Promise<string | undefined> {
  const skip = `^${path.join(dir, "wheels").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[/\\\\]`;
  try {
    await run(venvPython, ["-m", "compileall", "-q", "-j", "0", "-x", skip, dir], { env: hermeticInstallEnv(), timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
    return undefined;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const first = `${e.stdout ?? ""}\n${e.stderr ?? ""}`.trim().split("\n").find((l) => l.trim() !== "") ?? e.message;
    return `some files did not compile to bytecode (they are loaded from source, slower): ${first}`;
  }
}

/** Bytes on disk under `dir` (files only; links not followed). */
export async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await lstat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}
