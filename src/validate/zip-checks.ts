import type { KeyObject } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isProcVisionError } from "../errors/procvision-error.js";
import { chooseInstaller, findUv } from "../wheel-installer/index.js";
import { parseJson } from "../manifest/index.js";
import { SHA256SUMS, TARGET_ENV_FILE } from "../offline-package/index.js";
import { localTarget } from "../python/local-target.js";
import { resolveInterpreter } from "../python/interpreter.js";
import type { WheelTarget } from "../wheel-tags/index.js";
import type { SafeZip } from "../zip/index.js";
import { acceptPackage, type Acceptance, type AcceptanceTarget } from "../offline-package/acceptance/acceptance.js";
import { ACCEPTANCE_CHECKS } from "../checks/report.js";
import type { IntegrityPolicy } from "../offline-package/acceptance/integrity.js";
import { acceptForInstall, deployPackage } from "../store/install/pipeline.js";
import { parseTargetEnv, resolveTarget } from "../target-env/index.js";
import { fail, pass, warn, type Check } from "../checks/report.js";

export interface ZipCheckOptions {
  zipPath: string;
  /** Also install into a throw-away directory, as a runner does, and smoke-run the code inside the zip. */
  full: boolean;
  python?: string;
  imagePath?: string;
  pid?: string;
  /** Public keys to verify SIGNATURE against (`--key`). */
  keys?: readonly KeyObject[];
}

/** The checks and, when the package fails, the code a runner refuses it with. */
export interface ZipVerdict {
  checks: Check[];
  errorCode?: string;
}

/**
 * What a package of ours is judged against without installing it: the target its `.procvision_env.json` names (it
 * may be another platform than this one), completed by the local interpreter. Other tools' zips, whose env file may
 * be stale, are judged as a runner judges them: by their wheels' tags on this interpreter.
 */
async function declaredTarget(zip: SafeZip, python: string): Promise<AcceptanceTarget> {
  const local = await localTarget(python);
  return (await packageTarget(zip, local)) ?? { interpreter: local, path: python };
}

/**
 * The target a package of ours declares (it has SHA256SUMS and a readable `.procvision_env.json`), completed by
 * `local` where the env file is silent; undefined for other tools' zips. `publish` judges a package by it too.
 */
export async function packageTarget(zip: SafeZip, local: WheelTarget): Promise<AcceptanceTarget | undefined> {
  if (!zip.entries.has(SHA256SUMS) || !zip.entries.has(TARGET_ENV_FILE)) return undefined;
  const json = parseJson(await zip.readText(TARGET_ENV_FILE).catch(() => ""));
  const parsed = json.ok ? parseTargetEnv(json.value) : undefined;
  if (!parsed?.ok) return undefined; // acceptance reports the unreadable env file
  const { target } = resolveTarget({}, parsed.data, local);
  const label = `${target.wheelsPlatform.join(", ")} / ${target.abi}`;
  return { interpreter: target, path: `the package's target (${label})`, role: `the package's target (${label})` };
}

/** Acceptance rendered as validate's checks: every problem fails its check with its code, warnings are said. */
function acceptanceChecks(acceptance: Acceptance): Check[] {
  return ACCEPTANCE_CHECKS.filter((name) => acceptance.judged.has(name) || acceptance.problems.some((p) => p.check === name)).map((name) => {
    const problems = acceptance.problems.filter((p) => p.check === name);
    if (problems.length > 0) return fail(name, problems.map((p) => p.error.message).join("; "), problems[0]!.error.code);
    let lead = acceptance.judged.get(name) ?? "";
    if (name === "checksums_valid" && lead !== "") {
      lead += acceptance.signed === "verified" ? "; SIGNATURE verified" : acceptance.signed === "unverified" ? "; SIGNATURE not verified (pass --key)" : "; unsigned";
    }
    const warnings = acceptance.warnings.filter((w) => w.check === name).map((w) => w.message);
    return warnings.length > 0 ? warn(name, warnings, lead || undefined) : pass(name, lead);
  });
}

/**
 * `validate --zip` (contract §2): the runner's package acceptance, as checks. Without `full` the package is judged
 * against the target it was built for; with `full` against this interpreter (or the package's embedded runtime), and
 * then installed by the runner's install pipeline (same steps, same installer) into a throw-away directory, where
 * the smoke checks run on the code inside the zip.
 */
export async function zipChecks(options: ZipCheckOptions): Promise<ZipVerdict> {
  const python = (await resolveInterpreter(options.python ?? "python3")).executable;
  const integrity: IntegrityPolicy = { trustedKeys: options.keys ?? [], requireSignature: false };
  if (!options.full) {
    const { zip, acceptance } = await acceptPackage(options.zipPath, { integrity, target: (z) => declaredTarget(z, python) });
    zip?.close();
    return { checks: acceptanceChecks(acceptance), ...(acceptance.problems[0] ? { errorCode: acceptance.problems[0].error.code } : {}) };
  }
  const work = await mkdtemp(path.join(os.tmpdir(), "procvision-validate-"));
  const accepted = await acceptForInstall(options.zipPath, integrity, work, async () => ({ executable: python, target: await localTarget(python) }))
    .catch(async (err: unknown) => {
      await rm(work, { recursive: true, force: true });
      throw err;
    });
  const { zip, acceptance, runtime } = accepted;
  try {
    const checks = acceptanceChecks(acceptance);
    const refused = acceptance.problems[0];
    if (refused !== undefined) return { checks, errorCode: refused.error.code };
    if (zip === undefined || acceptance.plan === undefined || accepted.interpreter === undefined) return { checks };
    // The runner's default installer, as a station with a default runner_config.json installs.
    const installer = chooseInstaller("auto", findUv()); // the runner's default `installer`
    let deployed;
    try {
      deployed = await deployPackage({ ...accepted, zip, plan: acceptance.plan, interpreter: accepted.interpreter }, {
        dir: path.join(work, "package"), installer,
        smoke: { ...(options.imagePath ? { imagePath: options.imagePath } : {}), ...(options.pid ? { pid: options.pid } : {}) },
      });
    } catch (err) {
      const code = isProcVisionError(err) ? err.code : undefined;
      const message = `${(err as Error).message}${isProcVisionError(err) && err.hint ? ` (${err.hint})` : ""}`;
      return { checks: [...checks, fail("zip_install", message, code)], ...(code ? { errorCode: code } : {}) };
    }
    const on = runtime === undefined ? python : "the embedded runtime";
    const installed = pass("zip_install", `installed from wheels/ only into a fresh venv with ${on} (installer: ${installer.kind})`);
    const failed = deployed.validation.checks.filter((c) => c.result === "FAIL");
    return {
      checks: [...checks, installed, failed.length === 0
        ? pass("zip_smoke", `${deployed.validation.checks.length} smoke checks passed in the installed venv`)
        : fail("zip_smoke", failed.map((c) => `${c.name}: ${c.message}`).join("; "))],
    };
  } finally {
    zip?.close();
    await runtime?.discard();
    await rm(work, { recursive: true, force: true });
  }
}
