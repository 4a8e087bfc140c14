import type { KeyObject } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isProcVisionError } from "../errors/procvision-error.js";
import { createVenv } from "../install/venv.js";
import { installWheels } from "../wheel-install/index.js";
import { validateManifest } from "../manifest/index.js";
import { SHA256SUMS, SIGNATURE } from "../offline-zip/index.js";
import { localTarget } from "../python/local-target.js";
import { resolveInterpreter } from "../python/interpreter.js";
import { packageRuntime, probeRuntime } from "../python/runtime.js";
import { formatRequirement, sanitizeRequirements, type Requirement } from "../requirements/index.js";
import { MANIFEST, MANIFEST_MAX_BYTES, manifestTooLarge, openSafeZip, verifyChecksums, readWheelsMetadata, type SafeZip } from "../safe-zip/index.js";
import { loadPublicKey, verify } from "../signing/index.js";
import { parseTargetEnv, resolveTarget } from "../target-env/index.js";
import { matchRequirementsToWheels, parseWheelFilename, supportedTags, wheelSupported, type WheelTarget } from "../wheel-tags/index.js";
import { judgeEnvFile } from "../store/install/compatibility.js";
import { selectWheels } from "../store/install/deploy.js";
import { judgeIntegrity } from "../store/install/integrity.js";
import { planSdk, type SdkPlan } from "../store/install/sdk-replacement.js";
import { ourSdkWheels, runnerSdkWheel, type RunnerSdkWheel } from "../store/install/sdk-wheels.js";
import { packageWorkerLaunch } from "../store/layout.js";
import { projectChecks } from "./project-checks.js";
import { fail, pass, warn, type Check } from "./report.js";

export interface ZipCheckOptions {
  zipPath: string;
  /** Also install into a throw-away venv and smoke-run the code inside the zip. */
  full: boolean;
  python?: string;
  imagePath?: string;
  pid?: string;
  /** Public keys (PEM text or files) to verify SIGNATURE against. */
  keys?: string[];
}

function wheelNames(zip: SafeZip): string[] {
  return zip.wheelFiles().filter((e) => e.path.endsWith(".whl")).map((e) => e.path.slice("wheels/".length));
}

async function zipTarget(zip: SafeZip, python: string): Promise<{ target: WheelTarget; label: string; problem?: string }> {
  const local = await localTarget(python);
  if (!zip.entries.has(".procvision_env.json")) return { target: local, label: "the local interpreter (the zip has no .procvision_env.json)" };
  try {
    const parsed = parseTargetEnv(JSON.parse(await zip.readText(".procvision_env.json")));
    if (!parsed.ok) return { target: local, label: "the local interpreter", problem: parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; ") };
    const { target } = resolveTarget({}, parsed.data, local);
    return { target, label: `${target.wheelsPlatform.join(", ")} / ${target.abi}` };
  } catch (err) {
    return { target: local, label: "the local interpreter", problem: `.procvision_env.json: ${(err as Error).message}` };
  }
}

async function checksumCheck(zip: SafeZip, keys: readonly string[]): Promise<Check> {
  let result;
  try {
    result = await verifyChecksums(zip);
  } catch (err) {
    return fail("checksums_valid", (err as Error).message);
  }
  if (!result.ok) {
    const shown = result.problems.slice(0, 5).map((p) => `${p.path} (${p.problem.replaceAll("_", " ")})`).join(", ");
    return fail("checksums_valid", `${result.problems.length} entr${result.problems.length === 1 ? "y does" : "ies do"} not match ${SHA256SUMS}: ${shown}`);
  }
  const hasSignature = zip.entries.has(SIGNATURE);
  let signatureValid: boolean | null = null;
  let publicKeys: KeyObject[];
  try {
    publicKeys = keys.map((k) => loadPublicKey(k));
  } catch (err) {
    return fail("checksums_valid", (err as Error).message);
  }
  if (hasSignature && result.sha256sums !== null) {
    const signature = (await zip.readText(SIGNATURE)).trim();
    if (!/^[A-Za-z0-9+/]{86}==$/.test(signature)) return fail("checksums_valid", `${SIGNATURE} is not a base64 ed25519 signature`);
    if (publicKeys.length > 0) signatureValid = verify(Buffer.from(result.sha256sums), signature, publicKeys);
  }
  if (signatureValid === false) return fail("checksums_valid", `${SIGNATURE} does not verify with the given key(s): the zip was altered or signed by someone else`);
  // The runner's own policy (judgeIntegrity, default: no signature required) decides what is only a warning: a
  // SHA256SUMS missing, a SIGNATURE nobody checked, no signature where keys were given. None of them is a plain PASS.
  const { warnings } = judgeIntegrity({ checksums: { ok: true, present: result.sha256sums !== null }, hasSignature, signatureValid },
    { trustedKeys: publicKeys, requireSignature: false });
  const lead = result.sha256sums === null ? undefined
    : `every entry matches ${SHA256SUMS}; ${signatureValid === true ? `${SIGNATURE} verified` : hasSignature ? `${SIGNATURE} not verified (pass --key)` : "unsigned"}`;
  if (warnings.length > 0) return warn("checksums_valid", warnings, lead);
  return pass("checksums_valid", lead ?? "");
}

/**
 * `validate --zip` (contract §2): the static checks of an offline package, and with `full` an install into a
 * throw-away venv from the zip's wheels only and the smoke checks on the code inside it, as the runner does.
 */
export async function zipChecks(options: ZipCheckOptions): Promise<Check[]> {
  const checks: Check[] = [];
  let zip: SafeZip;
  try {
    zip = await openSafeZip(options.zipPath);
  } catch (err) {
    const message = (err as Error).message;
    const entryRule = isProcVisionError(err) && typeof err.details?.rule === "string";
    if (entryRule) return [pass("zip_open", "the zip's central directory reads"), fail("zip_paths_safe", message)];
    if (isProcVisionError(err) && err.code === "2002") return [pass("zip_open", "readable"), pass("zip_paths_safe", "every entry stays inside the package"), fail("zip_manifest", message)];
    return [fail("zip_open", message)];
  }
  try {
    checks.push(pass("zip_open", `${zip.entries.size} entries${zip.rootPrefix ? ` under ${zip.rootPrefix}` : ""}`));
    checks.push(pass("zip_paths_safe", "every entry stays inside the package"));

    if (!zip.entries.has(MANIFEST)) return [...checks, fail("zip_manifest", "no manifest.json at the zip root")];
    let manifestOk = false;
    const tooLarge = manifestTooLarge(zip.entries.get(MANIFEST)?.size ?? 0);
    if (tooLarge !== null) checks.push(fail("zip_manifest", tooLarge));
    else try {
      const result = validateManifest(JSON.parse(await zip.readText(MANIFEST, MANIFEST_MAX_BYTES)));
      manifestOk = result.ok;
      checks.push(result.ok ? pass("zip_manifest", `${result.manifest.name} ${result.manifest.version}`)
        : fail("zip_manifest", result.errors.map((e) => `${e.path}: ${e.message}`).join("; ")));
    } catch (err) {
      checks.push(fail("zip_manifest", `manifest.json is not valid JSON: ${(err as Error).message}`));
    }

    let requirements: Requirement[] | undefined;
    if (!zip.entries.has("requirements.txt")) checks.push(fail("zip_requirements", "no requirements.txt at the zip root"));
    else {
      const sanitized = sanitizeRequirements(await zip.readText("requirements.txt"));
      requirements = sanitized.requirements;
      checks.push(sanitized.dropped.length === 0 ? pass("zip_requirements", `${requirements.length} requirement(s)`)
        : fail("zip_requirements", `lines that are not requirements: ${sanitized.dropped.map((d) => `line ${d.lineNumber} "${d.line}"`).join(", ")}`));
    }

    const wheels = wheelNames(zip);
    const badNames = wheels.filter((w) => !parseWheelFilename(w).ok);
    const { problems: forged, metadata } = await readWheelsMetadata(zip, wheels.map((w) => `wheels/${w}`));
    // The runner's decision on the SDK (planSdk): the original SDK is replaced, a missing one added; said as warnings.
    const runnerSdk = await runnerSdkWheel();
    const sdk = requirements === undefined ? undefined
      : planSdk({ requirements, wheelFiles: wheels, ours: await ourSdkWheels(zip, wheels.map((w) => `wheels/${w}`)), runnerSdk });
    if (wheels.length === 0) checks.push(fail("zip_wheels", "no wheels/*.whl in the zip: package without --skip-download, or fill wheels/"));
    else if (badNames.length > 0) checks.push(fail("zip_wheels", `not valid wheel file names: ${badNames.join(", ")}`));
    else if (forged.length > 0) checks.push(fail("zip_wheels", `wheels that are not what their file names say: ${forged.join("; ")}`));
    else if (sdk?.warning !== undefined) checks.push(warn("zip_wheels", [sdk.warning], `${wheels.length} wheel(s)`));
    else checks.push(pass("zip_wheels", `${wheels.length} wheel(s)`));

    const python = (await resolveInterpreter(options.python ?? "python3")).executable;
    // Like the runner: a zip of ours is judged against the target its env file names; another tool's zip, whose env
    // file may be stale, by its wheels' tags against this interpreter, the env file's disagreement a warning.
    const checksums = zip.entries.has(SHA256SUMS);
    const local = await localTarget(python);
    const target = checksums ? await zipTarget(zip, python) : { target: local, label: `this interpreter (${python})` };
    const installWheels = sdk?.wheelFiles ?? wheels;
    if (requirements !== undefined) {
      const unpinned = requirements.filter((r) => r.pinnedVersion === undefined);
      checks.push(unpinned.length === 0 ? pass("requirements_pinned", "every requirement is pinned with ==")
        : fail("requirements_pinned", `not pinned to one version: ${unpinned.map(formatRequirement).join(", ")}`));
      const missing = matchRequirementsToWheels(sdk?.requirements ?? requirements, installWheels, target.target).filter((m) => m.applies && m.reason === "missing");
      checks.push(missing.length === 0 ? pass("wheels_cover_requirements", "every requirement has a wheel")
        : fail("wheels_cover_requirements", `no wheel for ${missing.map((m) => formatRequirement(m.requirement)).join(", ")}`));
    }
    const tags = new Set(supportedTags(target.target));
    const foreign = installWheels.filter((w) => parseWheelFilename(w).ok && !wheelSupported(w, tags));
    const envWarnings = !checksums && zip.entries.has(".procvision_env.json")
      ? judgeEnvFile(await zip.readText(".procvision_env.json"), local, python, installWheels, false) : [];
    checks.push("problem" in target && target.problem ? fail("wheels_match_target", target.problem)
      : foreign.length > 0 ? fail("wheels_match_target", `wheels for another target than ${target.label}: ${foreign.join(", ")}`)
        : envWarnings.length > 0 ? warn("wheels_match_target", envWarnings, `every wheel installs on ${target.label}`)
          : pass("wheels_match_target", `every wheel installs on ${target.label}`));
    checks.push(await checksumCheck(zip, options.keys ?? []));

    if (options.full) {
      const staticOk = manifestOk && checks.every((c) => c.result === "PASS");
      if (staticOk && sdk !== undefined) checks.push(...await installAndSmoke(zip, python, { ...sdk, metadata, runnerSdk }, options));
    }
    return checks;
  } finally {
    zip.close();
  }
}

/**
 * zip_install and zip_smoke: extract, venv from the zip's wheels only with the runner's own installer (what a station
 * does by default; on the package's embedded runtime when it has one), smoke checks in that venv.
 */
async function installAndSmoke(zip: SafeZip, python: string, plan: SdkPlan & { metadata: ReadonlyMap<string, string>; runnerSdk: RunnerSdkWheel }, options: ZipCheckOptions): Promise<Check[]> {
  const work = await mkdtemp(path.join(os.tmpdir(), "procvision-validate-"));
  try {
    const packageDir = path.join(work, "package");
    await zip.extractTo(packageDir);
    // A package with an embedded runtime is installed on that runtime, as a station does.
    let base = { executable: python, target: await localTarget(python), env: {} as Record<string, string> };
    try {
      const runtime = packageRuntime(packageDir);
      if (runtime !== undefined) base = await probeRuntime(runtime.dir, "the package's embedded runtime python_runtime/");
      const venvPython = await createVenv(base.executable, path.join(packageDir, "venv"), base.env);
      const wheelsDir = path.join(packageDir, "wheels");
      const extracted = wheelNames(zip).map((file) => ({ file, slice: { file: path.join(wheelsDir, file), start: 0, size: statSync(path.join(wheelsDir, file)).size } }));
      const { runnerSdk } = plan;
      await installWheels({ kind: "builtin" }, {
        requirements: plan.requirements, target: base.target,
        metadata: plan.usesRunnerSdk ? new Map([...plan.metadata, [runnerSdk.file, runnerSdk.metadata]]) : plan.metadata,
        wheels: await selectWheels(packageDir, extracted, plan.wheelFiles, plan.usesRunnerSdk ? runnerSdk : undefined),
      }, { venvPython, basePython: base.executable, runtimeEnv: base.env });
    } catch (err) {
      return [fail("zip_install", `${(err as Error).message}${isProcVisionError(err) && err.hint ? ` (${err.hint})` : ""}`)];
    }
    const installed = pass("zip_install", `installed from wheels/ only into a fresh venv with ${base.executable === python ? python : "the embedded runtime"}`);
    // Started as the runner's workers are: the venv as it was installed, nothing lent.
    const smoke = await projectChecks({
      projectDir: packageDir, worker: packageWorkerLaunch(packageDir),
      ...(options.imagePath ? { imagePath: options.imagePath } : {}), ...(options.pid ? { pid: options.pid } : {}),
    });
    const failed = smoke.filter((c) => c.result === "FAIL");
    return [installed, failed.length === 0
      ? pass("zip_smoke", `${smoke.length} smoke checks passed in the installed venv`)
      : fail("zip_smoke", failed.map((c) => `${c.name}: ${c.message}`).join("; "))];
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
