import { copyFile, chmod, rename, rm } from "node:fs/promises";
import path from "node:path";
import { ErrorCode, ProcVisionError, isProcVisionError } from "../../errors/index.js";
import { digestFile, SHA256SUMS } from "../../offline-zip/index.js";
import { readWheelsMetadata, type SafeZip } from "../../safe-zip/index.js";
import type { ValidationReport } from "../../validate/report.js";
import { installWheels, type InstallerChoice } from "../../wheel-install/index.js";
import type { WheelTarget } from "../../wheel-tags/index.js";
import type { PackageRef } from "../decisions.js";
import { archivedZip, packageDir, packageWorkerLaunch, type StoreLayout } from "../layout.js";
import { removePackageFiles } from "../recovery.js";
import { removeVersion } from "./remove.js";
import type { PackageRecord, Repository } from "../repository.js";
import { checkCompatibility, type CompatibilityPlan } from "./compatibility.js";
import type { BytecodeCompiler } from "./bytecode.js";
import { createPackageVenv, directorySize, extractPackage, recordRequirements, selectWheels, storedWheels } from "./deploy.js";
import { ourSdkWheels, runnerSdkWheel, type RunnerSdkWheel } from "./sdk-wheels.js";
import { checkIntegrity, type IntegrityPolicy } from "./integrity.js";
import { openPackage } from "./open.js";
import { pausePoint } from "./pause.js";
import { hasRuntime, stageRuntime, type StagedRuntime } from "./runtime.js";
import { smokeCheck } from "./smoke.js";

export interface InstallEnvironment {
  layout: StoreLayout;
  repo: Repository;
  integrity: IntegrityPolicy;
  /** The runner's interpreter: absolute path and the wheel tags it accepts. */
  interpreter: () => Promise<{ executable: string; target: WheelTarget }>;
  installer: () => InstallerChoice;
  /** Frees an existing version for a forced reinstall (stop its workers); refuses with 2007 when it is bound. */
  releaseForReinstall: (pkg: PackageRecord) => Promise<void>;
  /** Compiles the rest of an installed package's bytecode after the install returns. */
  bytecode: BytecodeCompiler;
  /** The workers' start-up limit (runner_config startup_timeout_ms): the smoke check's worker gets the same. */
  startupTimeoutMs: number;
}

export interface InstallRequest {
  zipPath: string;
  force: boolean;
  operator: string;
  /** Called once the manifest is read: failures after this point concern a known package. */
  onIdentified?: (ref: PackageRef) => void;
}

export interface InstallResult {
  name: string;
  version: string;
  /** `invalid`: installed, but the smoke checks failed (see `validation`); it cannot be activated. */
  state: "installed" | "invalid";
  dir: string;
  zip_path: string;
  zip_sha256: string;
  validation: ValidationReport;
  warnings: string[];
  signed: "verified" | "unverified" | "unsigned";
  size_bytes: number;
  duration_ms: number;
}


const optionalText = async (zip: SafeZip, p: string): Promise<string | null> => (zip.entries.has(p) ? zip.readText(p, 1024 * 1024) : null);

/**
 * Install step 2a over an opened zip: what gets installed on this interpreter (requirements, wheels, the SDK
 * replacement) and the warnings, or 2001/2003/2004. Reads the zip, writes nothing; `validate --zip` runs it too.
 */
export async function planPackageInstall(zip: SafeZip, interpreter: { executable: string; target: WheelTarget }, runtime?: StagedRuntime): Promise<{
  plan: CompatibilityPlan; runnerSdk: RunnerSdkWheel;
}> {
  const wheelPaths = zip.wheelFiles().map((e) => e.path);
  const runnerSdk = await runnerSdkWheel();
  const plan = checkCompatibility({
    requirementsText: await optionalText(zip, "requirements.txt"),
    wheelFiles: wheelPaths.map((p) => p.slice("wheels/".length)),
    interpreter: interpreter.target,
    interpreterPath: runtime?.interpreterPath ?? interpreter.executable,
    ...(runtime === undefined ? {} : {
      interpreterRole: "the package's embedded runtime",
      rebuildHint: "rebuild the package with procvision-cli package --embed-python --python-runtime DIR and no --runtime-python-version/--runtime-abi override: the wheels are then downloaded for the runtime itself",
    }),
    envFileText: await optionalText(zip, ".procvision_env.json"),
    checksums: zip.entries.has(SHA256SUMS),
    ourSdkWheels: await ourSdkWheels(zip, wheelPaths),
    runnerSdk,
  });
  return { plan, runnerSdk };
}

/** Copies the zip into zips/ (atomically, read-only), unless it was installed from there. */
async function archive(source: string, target: string): Promise<void> {
  if (source === target) return;
  const partial = `${target}.partial-${process.pid}`;
  await copyFile(source, partial);
  await chmod(partial, 0o444);
  await rename(partial, target);
}

function asInstallError(err: unknown): ProcVisionError {
  if (isProcVisionError(err)) return err;
  return new ProcVisionError(ErrorCode.install_failed, `install failed: ${(err as Error).message ?? String(err)}`, {
    hint: "check free disk space and permissions of the runner root, then install again", cause: err,
  });
}

/**
 * The install pipeline of contract §7: open (2001/2002) → integrity (2008) → [an embedded runtime staged and probed]
 * → compatibility (2004/2003, against that runtime when the package has one) → registry row
 * `installing` → extract, venv, wheels, bytecode → smoke checks → archive → `installed` | `invalid`. Everything up to
 * the row only reads the zip; from the row on, a failure (or a crash, via recovery) leaves the package absent.
 * The caller serializes installs and holds the install lock.
 */
export async function installPackage(env: InstallEnvironment, request: InstallRequest): Promise<InstallResult> {
  const started = performance.now();
  const source = path.resolve(request.zipPath);
  const { zip, manifest } = await openPackage(source);
  let runtime: StagedRuntime | undefined;
  try {
    const ref = { name: manifest.name, version: manifest.version };
    request.onIdentified?.(ref);
    const integrity = await checkIntegrity(zip, env.integrity);
    // A package with its own runtime is installed on it, not on the runner's interpreter.
    runtime = hasRuntime(zip) ? await stageRuntime(zip, env.layout) : undefined;
    const interpreter = runtime?.probed ?? await env.interpreter();
    const wheelPaths = zip.wheelFiles().map((e) => e.path);
    const { problems: forged, unreadable, metadata } = await readWheelsMetadata(zip, wheelPaths);
    if (unreadable.length > 0) {
      // Same code as the installer's own entry checks give a damaged wheel.
      throw new ProcVisionError(ErrorCode.invalid_zip, `wheels/ holds wheels that are not readable zips: ${unreadable.join("; ")}`, {
        hint: "the package is damaged or forged: copy it again, or rebuild it with procvision-cli package",
      });
    }
    if (forged.length > 0) {
      throw new ProcVisionError(ErrorCode.wheels_missing, `wheels/ holds wheels that are not what their file names say: ${forged.join("; ")}`, {
        hint: "the package was forged or built wrongly: rebuild it with procvision-cli package from the original wheels",
      });
    }
    // After the forgery checks: which SDK a wheel is must be read from a wheel that is what its name says.
    const { plan, runnerSdk } = await planPackageInstall(zip, interpreter, runtime);
    const installer = env.installer();

    const existing = env.repo.getPackage(ref.name, ref.version);
    if (existing !== undefined && existing.state !== "installing" && existing.state !== "removing" && !request.force) {
      throw new ProcVisionError(ErrorCode.install_failed, `${ref.name} ${ref.version} is already installed (${existing.state}, ${existing.installed_at ?? "?"})`, {
        hint: "install with force to replace it, or give the new build another version in manifest.json",
      });
    }
    if (existing !== undefined) {
      await env.releaseForReinstall(existing);
      await removeVersion(env.layout, env.repo, env.bytecode, existing);
    }

    const zipSha256 = (await digestFile(source)).sha256;
    const dir = packageDir(env.layout, ref.name, ref.version);
    env.repo.beginInstall({ ...ref, manifest, dir, source_zip: source, zip_sha256: zipSha256, operator: request.operator });
    await pausePoint("registered-installing");
    try {
      await rm(dir, { recursive: true, force: true }); // ours now: the row claims it
      // The builtin installer reads stored wheels straight from the zip: only pip/uv need them on disk.
      const inPlace = installer.kind === "builtin" ? await storedWheels(zip, wheelPaths) : new Map();
      const wheels = await selectWheels(dir, await extractPackage(zip, dir, inPlace, runtime?.isRuntimeEntry), plan.wheelFiles,
        plan.usesRunnerSdk ? runnerSdk : undefined);
      // The venv is made in place from the runtime at its final path (venvs are not relocatable; runtimes are).
      const base = runtime === undefined ? { ...interpreter, env: {} } : await runtime.moveInto(dir);
      await pausePoint("extracted");
      const python = await createPackageVenv(base.executable, dir, base.env);
      await pausePoint("venv");
      await recordRequirements(dir, plan.requirementsText);
      await installWheels(installer, {
        requirements: plan.requirements, wheels, target: interpreter.target,
        metadata: plan.usesRunnerSdk ? new Map([...metadata, [runnerSdk.file, runnerSdk.metadata]]) : metadata,
      }, { venvPython: python, basePython: base.executable, runtimeEnv: base.env });
      // The archived zip keeps the wheels: a second copy next to the venv would double the disk use (PyTorch: GBs).
      await rm(path.join(dir, "wheels"), { recursive: true, force: true });
      await pausePoint("wheels");
      // Python writes the bytecode of what the smoke check imports (what a worker imports at start-up); the rest is
      // compiled in the background once the package is registered.
      const validation = await smokeCheck(packageWorkerLaunch(dir), env.startupTimeoutMs);
      await pausePoint("smoked");
      const zipPath = archivedZip(env.layout, ref.name, ref.version);
      await archive(source, zipPath);
      await pausePoint("archived");
      const warnings = [...integrity.warnings, ...plan.warnings];
      const state = validation.summary.status === "PASS" ? "installed" as const : "invalid" as const;
      const size = await directorySize(dir);
      env.repo.finishInstall(ref.name, ref.version, { state, zip_path: zipPath, validation, warnings, size_bytes: size });
      await pausePoint("finished");
      if (state === "installed") env.bytecode.start(dir, python);
      return {
        ...ref, state, dir, zip_path: zipPath, zip_sha256: zipSha256, validation, warnings, signed: integrity.signed, size_bytes: size,
        duration_ms: Math.round(performance.now() - started),
      };
    } catch (err) {
      await removePackageFiles(env.layout, { ...ref, dir, source_zip: source }).catch(() => undefined);
      env.repo.deletePackage(ref.name, ref.version);
      throw asInstallError(err);
    }
  } finally {
    zip.close();
    await runtime?.discard();
  }
}
