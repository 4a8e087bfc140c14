import { copyFile, chmod, rename, rm } from "node:fs/promises";
import path from "node:path";
import { ErrorCode, ProcVisionError, isProcVisionError } from "../../errors/index.js";
import { digestFile, packageWheels, WHEELS_DIR } from "../../offline-package/index.js";
import type { SafeZip } from "../../zip/index.js";
import { stationReport, type ValidationReport } from "../../checks/report.js";
import { installWheels, type InstallerChoice } from "../../wheel-installer/index.js";
import type { WheelTarget } from "../../wheel-tags/index.js";
import type { PackageRef } from "../decisions.js";
import { archivedZip, packageDir, packageWorkerLaunch, type StoreLayout } from "../layout.js";
import { removePackageFiles } from "../recovery.js";
import type { PackageRecord, Repository } from "../repository.js";
import { acceptPackage, type AcceptedPackage } from "../../offline-package/acceptance/acceptance.js";
import type { CompatibilityPlan } from "../../offline-package/acceptance/compatibility.js";
import type { BytecodeCompiler } from "./bytecode.js";
import { createPackageVenv, directorySize, extractPackage, recordRequirements, selectWheels, storedWheels } from "./deploy.js";
import type { IntegrityPolicy } from "../../offline-package/acceptance/integrity.js";
import { pausePoint } from "./pause.js";
import { hasRuntime, stageRuntime, type StagedRuntime } from "./runtime.js";
import { smokeCheck, type SmokeOptions } from "./smoke.js";

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
  /** What the registry row records as the zip's source (`source_zip`); default: its path. */
  origin?: string;
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


/**
 * Install steps 1–2 for a zip: package acceptance (acceptPackage) against this runner's interpreter, or against the
 * package's embedded runtime, staged in `stagingDir` and probed once the package proved to be what it claims.
 * `validate --zip --full` accepts through here too. Close `zip` and discard `runtime` when done.
 */
export async function acceptForInstall(zipPath: string, integrity: IntegrityPolicy, stagingDir: string,
  interpreter: () => Promise<{ executable: string; target: WheelTarget }>): Promise<AcceptedPackage & { runtime?: StagedRuntime; interpreter?: { executable: string; target: WheelTarget } }> {
  let runtime: StagedRuntime | undefined;
  let chosen: { executable: string; target: WheelTarget } | undefined;
  const accepting = acceptPackage(zipPath, {
    integrity,
    target: async (zip, trusted) => {
      // A package with its own runtime is installed on it, not on the runner's interpreter.
      if (!hasRuntime(zip)) {
        chosen = await interpreter();
        return { interpreter: chosen.target, path: chosen.executable };
      }
      if (!trusted) return undefined;
      runtime = await stageRuntime(zip, stagingDir);
      chosen = runtime.probed;
      return {
        interpreter: runtime.probed.target, path: runtime.interpreterPath, role: "the package's embedded runtime",
        rebuildHint: "rebuild the package with procvision-cli package --embed-python --python-runtime DIR and no --runtime-python-version/--runtime-abi override: the wheels are then downloaded for the runtime itself",
      };
    },
  });
  const accepted = await accepting.catch(async (err: unknown) => {
    await runtime?.discard();
    throw err;
  });
  return { ...accepted, ...(runtime ? { runtime } : {}), ...(chosen ? { interpreter: chosen } : {}) };
}

/** An accepted package, open, with what it installs on. */
export interface PackageToDeploy {
  zip: SafeZip;
  plan: CompatibilityPlan;
  metadata: ReadonlyMap<string, string>;
  runnerSdk: AcceptedPackage["runnerSdk"];
  interpreter: { executable: string; target: WheelTarget };
  runtime?: StagedRuntime;
}

/**
 * Install steps 3–4 into `dir` (absent or empty; venvs are not relocatable, so this is the package's final place):
 * extract, venv from the interpreter or the package's runtime, the wheels with `installer`, the smoke checks. The
 * caller removes `dir` on failure. The store deploys into deployed/<name>/<version>, `validate --zip --full` into a
 * throw-away directory.
 */
export async function deployPackage(pkg: PackageToDeploy, options: { dir: string; installer: InstallerChoice; startupTimeoutMs?: number; smoke?: SmokeOptions }): Promise<{ python: string; validation: ValidationReport }> {
  const { zip, plan, runnerSdk, runtime, dir } = { ...pkg, ...options };
  const wheelPaths = packageWheels(zip).map((e) => e.path);
  // The builtin installer reads stored wheels straight from the zip: only pip/uv need them on disk.
  const inPlace = options.installer.kind === "builtin" ? await storedWheels(zip, wheelPaths) : new Map();
  const wheels = await selectWheels(dir, await extractPackage(zip, dir, inPlace, runtime?.isRuntimeEntry), plan.wheelFiles,
    plan.usesRunnerSdk ? runnerSdk : undefined);
  // The venv is made in place from the runtime at its final path (venvs are not relocatable; runtimes are).
  const base = runtime === undefined ? { ...pkg.interpreter, env: {} } : await runtime.moveInto(dir);
  await pausePoint("extracted");
  const python = await createPackageVenv(base.executable, dir, base.env);
  await pausePoint("venv");
  await recordRequirements(dir, plan.requirementsText);
  await installWheels(options.installer, {
    requirements: plan.requirements, wheels, target: pkg.interpreter.target,
    metadata: plan.usesRunnerSdk ? new Map([...pkg.metadata, [runnerSdk.file, runnerSdk.metadata]]) : pkg.metadata,
  }, { venvPython: python, basePython: base.executable, runtimeEnv: base.env });
  // The archived zip keeps the wheels: a second copy next to the venv would double the disk use (PyTorch: GBs).
  await rm(path.join(dir, WHEELS_DIR), { recursive: true, force: true });
  await pausePoint("wheels");
  // Python writes the bytecode of what the smoke check imports (what a worker imports at start-up); the rest is
  // compiled in the background once the package is registered.
  const validation = await smokeCheck(packageWorkerLaunch(dir), options.startupTimeoutMs, options.smoke);
  await pausePoint("smoked");
  return { python, validation };
}

/** Copies the zip into zips/ (atomically, read-only), unless it was installed from there. */
async function archive(source: string, target: string): Promise<void> {
  if (source === target) return;
  await rename(await stageArchive(source, target), target);
}

/** A read-only copy of the zip beside `target`, under a name recovery removes (`.partial-`) until it is renamed. */
async function stageArchive(source: string, target: string): Promise<string> {
  const partial = `${target}.partial-${process.pid}`;
  await copyFile(source, partial);
  await chmod(partial, 0o444);
  return partial;
}

function asInstallError(err: unknown): ProcVisionError {
  if (isProcVisionError(err)) return err;
  return new ProcVisionError(ErrorCode.install_failed, `install failed: ${(err as Error).message ?? String(err)}`, {
    hint: "check free disk space and permissions of the runner root, then install again", cause: err,
  });
}

/** Where a forced reinstall deploys: not where the build it replaces lives, which stays until the new one is ready. */
function reinstallDir(layout: StoreLayout, existing: PackageRecord): string {
  const usual = packageDir(layout, existing.name, existing.version);
  return path.resolve(existing.dir) === usual ? `${usual}${REINSTALL_SUFFIX}` : usual;
}

/** Reserved: a version named so would share its directory with a reinstalled build of another version. */
const REINSTALL_SUFFIX = "~reinstall";

/**
 * The install pipeline of contract §7: open (2001/2002) → integrity (2008) → [an embedded runtime staged and probed]
 * → compatibility (2004/2003, against that runtime when the package has one) → registry row
 * `installing` → extract, venv, wheels, bytecode → smoke checks → archive → `installed` | `invalid`. Everything up to
 * the row only reads the zip; from the row on, a failure (or a crash, via recovery) leaves the package absent. A forced
 * reinstall keeps the build it replaces until the new one is deployed and smoke-checked.
 * The caller serializes installs and holds the install lock.
 */
export async function installPackage(env: InstallEnvironment, request: InstallRequest): Promise<InstallResult> {
  const started = performance.now();
  const source = path.resolve(request.zipPath);
  const accepted = await acceptForInstall(source, env.integrity, env.layout.staging, env.interpreter);
  const { zip, acceptance, runtime } = accepted;
  try {
    const { manifest, plan } = acceptance;
    if (manifest !== undefined) request.onIdentified?.({ name: manifest.name, version: manifest.version });
    const refused = acceptance.problems[0];
    if (refused !== undefined) throw refused.error;
    if (zip === undefined || manifest === undefined || plan === undefined || accepted.interpreter === undefined) {
      throw new Error("package acceptance gave no plan without a problem"); // unreachable: judgePackage refuses first
    }
    const ref = { name: manifest.name, version: manifest.version };
    if (ref.version.endsWith(REINSTALL_SUFFIX)) {
      throw new ProcVisionError(ErrorCode.manifest_missing, `version ${JSON.stringify(ref.version)} ends with ${REINSTALL_SUFFIX}, which the store reserves`, {
        hint: "give the build another version in manifest.json",
      });
    }
    const installer = env.installer();

    const existing = env.repo.getPackage(ref.name, ref.version);
    if (existing !== undefined && existing.state !== "installing" && existing.state !== "removing" && !request.force) {
      throw new ProcVisionError(ErrorCode.install_failed, `${ref.name} ${ref.version} is already installed (${existing.state}, ${existing.installed_at ?? "?"})`, {
        hint: "install with force to replace it, or give the new build another version in manifest.json",
        details: { duplicate: true },
      });
    }
    if (existing !== undefined) await env.releaseForReinstall(existing);

    const zipSha256 = (await digestFile(source)).sha256;
    const dir = existing === undefined ? packageDir(env.layout, ref.name, ref.version) : reinstallDir(env.layout, existing);
    let registered = false;
    const register = (): void => {
      env.repo.beginInstall({ ...ref, manifest, dir, source_zip: request.origin ?? source, zip_sha256: zipSha256, operator: request.operator });
      registered = true;
    };
    // A fresh install is registered first (its state shows `installing`); a forced reinstall deploys next to the build
    // it replaces, with no row (a crash leaves an orphan that recovery removes), and replaces it only once deployed:
    // a reinstall that fails keeps the previous build.
    if (existing === undefined) {
      register();
      await pausePoint("registered-installing");
    }
    try {
      await rm(dir, { recursive: true, force: true }); // ours now: the row claims it, or no row claims it
      const deployed = await deployPackage({ ...accepted, zip, plan, interpreter: accepted.interpreter }, {
        dir, installer, startupTimeoutMs: env.startupTimeoutMs,
      });
      const { python } = deployed;
      const validation = stationReport(deployed.validation);
      const zipPath = archivedZip(env.layout, ref.name, ref.version);
      const warnings = [...acceptance.warnings.map((w) => w.message), ...(validation.warnings ?? [])];
      const state = validation.summary.status === "PASS" ? "installed" as const : "invalid" as const;
      const size = await directorySize(dir);
      const finished = { state, zip_path: zipPath, validation, warnings, size_bytes: size };
      if (existing === undefined) {
        await archive(source, zipPath);
        await pausePoint("archived");
        env.repo.finishInstall(ref.name, ref.version, finished);
      } else {
        // A good build is not traded for one that fails here; an invalid one may be (nothing that works is lost).
        if (state !== "installed" && existing.state === "installed") {
          const failed = validation.checks.filter((c) => c.result === "FAIL").map((c) => `${c.name}: ${c.message}`).join("; ");
          throw new ProcVisionError(ErrorCode.install_failed, `${ref.name} ${ref.version}: the new build failed its smoke checks on this station (${failed}); the installed build is kept`, {
            hint: "fix the algorithm and rebuild; the installed build stays as it was (start it again if it ran)", details: { validation },
          });
        }
        // The new build is complete: the zip is staged first, then one transaction swaps the rows, so a crash leaves
        // one whole build (the old until the swap, the new after it) and files recovery removes.
        const staged = await stageArchive(source, zipPath);
        await pausePoint("archived");
        await env.bytecode.stop(existing.dir);
        env.repo.transaction(() => {
          env.repo.deletePackage(ref.name, ref.version);
          register();
          env.repo.finishInstall(ref.name, ref.version, finished);
        });
        await rename(staged, zipPath);
        await rm(existing.dir, { recursive: true, force: true }); // no row claims it any more
      }
      await pausePoint("finished");
      if (state === "installed") env.bytecode.start(dir, python);
      return {
        ...ref, state, dir, zip_path: zipPath, zip_sha256: zipSha256, validation, warnings, signed: acceptance.signed, size_bytes: size,
        duration_ms: Math.round(performance.now() - started),
      };
    } catch (err) {
      if (registered) {
        await removePackageFiles(env.layout, { ...ref, dir, source_zip: source }).catch(() => undefined);
        env.repo.deletePackage(ref.name, ref.version);
      } else {
        await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      }
      throw asInstallError(err);
    }
  } finally {
    zip?.close();
    await runtime?.discard();
  }
}
