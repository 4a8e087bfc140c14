import { existsSync } from "node:fs";
import { ErrorCode, ProcVisionError, isProcVisionError } from "../../errors/index.js";
import type { Manifest } from "../../manifest/index.js";
import { MANIFEST, MANIFEST_MAX_BYTES, manifestTooLarge, packageZipName, REQUIREMENTS, SHA256SUMS, TARGET_ENV_FILE, wheelFileOf } from "../layout.js";
import { openPackageZip, packageWheels } from "../package-zip.js";
import type { SafeZip, SafeZipLimits } from "../../zip/index.js";
import { readWheelsMetadata } from "../../wheel-installer/index.js";
import type { WheelTarget } from "../../wheel-tags/index.js";
import { judgeCompatibility, type CompatibilityPlan } from "./compatibility.js";
import type { AcceptanceCheck } from "../../checks/report.js";
import type { Findings, Problem, Warning } from "./findings.js";
import { integrityFacts, judgeIntegrity, type IntegrityFacts, type IntegrityPolicy } from "./integrity.js";
import { judgeManifest } from "./manifest.js";
import { ourSdkWheels, runnerSdkWheel, type RunnerSdkWheel } from "./sdk-wheels.js";

/** A text file of the package: absent (null), read, or unreadable (damaged data: 2001). */
export type PackageText = null | { text: string } | { error: ProcVisionError };

/** Everything acceptance needs to know about a package, read from the zip by acceptPackage. */
export interface PackageFacts {
  /** The zip opened safely (its entry count and wrapping folder), or why not: 2001, or 2002 when it has no manifest. */
  open: { ok: true; entries: number; rootPrefix: string } | { ok: false; error: ProcVisionError };
  manifest?: { size: number; text: PackageText };
  requirements?: PackageText;
  envFile?: PackageText;
  /** File names in wheels/. */
  wheelFiles?: readonly string[];
  /** Wheels that are not what their file names say; `unreadable`: those that are not readable zips at all. */
  wheelReads?: { problems: readonly string[]; unreadable: readonly string[] };
  /** The SDK wheels among wheelFiles that are this product's (see ourSdkWheels). */
  ourSdkWheels?: ReadonlySet<string>;
  integrity?: IntegrityFacts;
  hasChecksums?: boolean;
}

/** The interpreter a package is judged for: where it installs (or, for `validate --zip`, the target it was built for). */
export interface AcceptanceTarget {
  interpreter: WheelTarget;
  /** Its path (or a description), for messages. */
  path: string;
  /** What it is, for messages, when not "this runner's interpreter" (an embedded runtime). */
  role?: string;
  /** How to rebuild a package that does not fit it, when not the usual retargeting. */
  rebuildHint?: string;
}

export interface AcceptanceContext {
  /** Undefined when there is none to judge against (an embedded runtime of an unverified package is not run). */
  target?: AcceptanceTarget;
  /** Why there is no target: its embedded runtime does not start here (2003). */
  targetError?: ProcVisionError;
  runnerSdk: RunnerSdkWheel;
  integrity: IntegrityPolicy;
}

/** The verdict on a package: accepted when `problems` is empty; then `plan` says what gets installed. */
export interface Acceptance extends Findings {
  manifest?: Manifest;
  plan?: CompatibilityPlan;
  signed: "verified" | "unverified" | "unsigned";
  /** The checks that were judged (others could not be, because of an earlier problem), each with what it found. */
  judged: Map<AcceptanceCheck, string>;
}

const WHEEL_HINT = "the package was forged or built wrongly: rebuild it with procvision-cli package from the original wheels";

/** Where a failure to open the zip belongs: an entry rule (zip_paths_safe), no manifest (zip_manifest), else zip_open. */
function openCheck(error: ProcVisionError): AcceptanceCheck {
  if (error.code === ErrorCode.manifest_missing) return "zip_manifest";
  return typeof error.details?.rule === "string" ? "zip_paths_safe" : "zip_open";
}

/**
 * Package acceptance (contract §1, §5a, §7 Install steps 1–2), pure: safe open (2001), manifest (2002), SHA256SUMS and
 * SIGNATURE (2008), wheels that are what their names say (2001/2004), requirements.txt, wheels covering every
 * requirement (2004) for the target's tags (2003), the SDK replacement and the env file (section 5a). Every finding is
 * collected, in the order the store would meet them: the store refuses with the first problem, `validate --zip`
 * reports them all as its checks.
 */
export function judgePackage(facts: PackageFacts, context: AcceptanceContext): Acceptance {
  const problems: Problem[] = [];
  const warnings: Warning[] = [];
  const judged = new Map<AcceptanceCheck, string>();
  const verdict = (extra: Partial<Acceptance> = {}): Acceptance => ({ problems, warnings, judged, signed: "unsigned", ...extra });
  if (!facts.open.ok) {
    const check = openCheck(facts.open.error);
    if (check !== "zip_open") judged.set("zip_open", "the zip's central directory reads");
    if (check === "zip_manifest") judged.set("zip_paths_safe", "every entry stays inside the package");
    judged.set(check, "");
    problems.push({ check, error: facts.open.error });
    return verdict();
  }
  judged.set("zip_open", `${facts.open.entries} entries${facts.open.rootPrefix ? ` under ${facts.open.rootPrefix}` : ""}`);
  judged.set("zip_paths_safe", "every entry stays inside the package");

  let manifest: Manifest | undefined;
  const m = facts.manifest;
  const manifestJudged = m === undefined || m.text === null ? undefined
    : "error" in m.text ? { ok: false as const, error: m.text.error } : judgeManifest(m.size, m.text.text);
  if (manifestJudged === undefined) {
    problems.push({ check: "zip_manifest", error: new ProcVisionError(ErrorCode.manifest_missing, "no manifest.json at the package root", { hint: "build the package with procvision-cli package" }) });
  } else if (!manifestJudged.ok) problems.push({ check: "zip_manifest", error: manifestJudged.error });
  else manifest = manifestJudged.manifest;
  judged.set("zip_manifest", manifest === undefined ? "" : `${manifest.name} ${manifest.version}`);

  const integrity = facts.integrity === undefined ? undefined : judgeIntegrity(facts.integrity, context.integrity);
  if (integrity !== undefined) {
    warnings.push(...integrity.warnings);
    judged.set("checksums_valid", facts.hasChecksums === true ? `every entry matches ${SHA256SUMS}` : "");
  }

  const wheelFiles = facts.wheelFiles ?? [];
  const wheelProblems: Problem[] = [];
  const reads = facts.wheelReads ?? { problems: [], unreadable: [] };
  if (reads.unreadable.length > 0) {
    // Same code as the installer's own entry checks give a damaged wheel.
    wheelProblems.push({ check: "zip_wheels", error: new ProcVisionError(ErrorCode.invalid_zip, `wheels/ holds wheels that are not readable zips: ${reads.unreadable.join("; ")}`, {
      hint: "the package is damaged or forged: copy it again, or rebuild it with procvision-cli package",
    }) });
  }
  const forged = reads.problems.filter((p) => !reads.unreadable.includes(p));
  if (forged.length > 0) {
    wheelProblems.push({ check: "zip_wheels", error: new ProcVisionError(ErrorCode.wheels_missing, `wheels/ holds wheels that are not what their file names say: ${forged.join("; ")}`, { hint: WHEEL_HINT }) });
  }
  if (wheelFiles.length === 0) {
    wheelProblems.push({ check: "zip_wheels", error: new ProcVisionError(ErrorCode.wheels_missing, "the package has no wheels/*.whl", {
      hint: "package without --skip-download (procvision-cli package downloads a wheel for every requirement), or fill wheels/",
    }) });
  }
  judged.set("zip_wheels", `${wheelFiles.length} wheel(s)`);

  let plan: CompatibilityPlan | undefined;
  const requirements = facts.requirements ?? null;
  const compatibilityProblems: Problem[] = [];
  const target = context.target;
  if (requirements !== null && "error" in requirements) {
    compatibilityProblems.push({ check: "zip_requirements", error: requirements.error });
    judged.set("zip_requirements", "");
  } else if (target !== undefined) {
    const envFile = facts.envFile ?? null;
    const compatibility = judgeCompatibility({
      requirementsText: requirements?.text ?? null, wheelFiles, interpreter: target.interpreter, interpreterPath: target.path,
      ...(target.role !== undefined ? { interpreterRole: target.role } : {}),
      ...(target.rebuildHint !== undefined ? { rebuildHint: target.rebuildHint } : {}),
      envFileText: envFile !== null && "text" in envFile ? envFile.text : null,
      checksums: facts.hasChecksums === true, ourSdkWheels: facts.ourSdkWheels ?? new Set(), runnerSdk: context.runnerSdk,
    });
    compatibilityProblems.push(...compatibility.problems);
    if (envFile !== null && "error" in envFile) compatibilityProblems.push({ check: "wheels_match_target", error: envFile.error });
    warnings.push(...compatibility.warnings);
    plan = compatibility.plan;
    judged.set("zip_requirements", plan === undefined ? "" : `${plan.requirements.length} requirement(s)`);
    if (plan !== undefined) {
      judged.set("requirements_pinned", plan.requirements.every((r) => r.pinnedVersion !== undefined) ? "every requirement is pinned with ==" : "");
      judged.set("wheels_cover_requirements", "every requirement has a wheel");
      judged.set("wheels_match_target", `every wheel installs on ${target.role ?? target.path}`);
    }
  }
  const targetProblems: Problem[] = context.targetError === undefined ? [] : [{ check: "wheels_match_target", error: context.targetError }];
  // In the order of the store's steps: manifest, integrity, wheels, then what is installed from them.
  problems.push(...(integrity?.problems ?? []), ...targetProblems, ...wheelProblems, ...compatibilityProblems);
  return verdict({ ...(manifest ? { manifest } : {}), ...(plan ? { plan } : {}), signed: integrity?.signed ?? "unsigned" });
}

/** Reads a text file of the package; a damaged entry is a finding, not an exception. */
async function readPackageText(zip: SafeZip, p: string, maxBytes = 1024 * 1024): Promise<PackageText> {
  if (!zip.entries.has(p)) return null;
  try {
    return { text: await zip.readText(p, maxBytes) };
  } catch (err) {
    if (isProcVisionError(err)) return { error: err };
    throw err;
  }
}

export interface AcceptOptions {
  integrity: IntegrityPolicy;
  /**
   * The target to judge against, asked once the zip is open and its integrity judged (`trusted`): a package's embedded
   * runtime is only staged and run when the package is what it claims to be. Undefined: the target checks are left
   * out. A ProcVisionError thrown here (a runtime that does not start: 2003) is a finding.
   */
  target: (zip: SafeZip, trusted: boolean) => Promise<AcceptanceTarget | undefined>;
  limits?: Partial<SafeZipLimits>;
}

/** An accepted or refused package; `zip` is open (close it) whenever it could be opened. */
export interface AcceptedPackage {
  zip?: SafeZip;
  acceptance: Acceptance;
  /** METADATA of each wheel that is what its name says, by file name (the builtin installer resolves with it). */
  metadata: Map<string, string>;
  runnerSdk: RunnerSdkWheel;
}

/** The I/O shell of package acceptance: opens the zip and reads the facts judgePackage judges. */
export async function acceptPackage(zipPath: string, options: AcceptOptions): Promise<AcceptedPackage> {
  const runnerSdk = await runnerSdkWheel();
  const context: AcceptanceContext = { runnerSdk, integrity: options.integrity };
  if (!existsSync(zipPath)) {
    const error = new ProcVisionError(ErrorCode.invalid_zip, `${zipPath} does not exist`, { hint: `check the path of the offline package zip (${packageZipName("<name>", "<version>")})` });
    return { acceptance: judgePackage({ open: { ok: false, error } }, context), metadata: new Map(), runnerSdk };
  }
  let zip: SafeZip;
  try {
    zip = await openPackageZip(zipPath, options.limits);
  } catch (err) {
    if (!isProcVisionError(err)) throw err;
    return { acceptance: judgePackage({ open: { ok: false, error: err } }, context), metadata: new Map(), runnerSdk };
  }
  try {
    const wheelPaths = packageWheels(zip).map((e) => e.path);
    const size = zip.entries.get(MANIFEST)?.size ?? 0;
    const facts: PackageFacts = {
      open: { ok: true, entries: zip.entries.size, rootPrefix: zip.rootPrefix },
      ...(zip.entries.has(MANIFEST) ? { manifest: { size, text: manifestTooLarge(size) === null ? await readPackageText(zip, MANIFEST, MANIFEST_MAX_BYTES) : { text: "" } } } : {}),
      requirements: await readPackageText(zip, REQUIREMENTS),
      envFile: await readPackageText(zip, TARGET_ENV_FILE),
      wheelFiles: wheelPaths.map((p) => wheelFileOf(p)!),
      hasChecksums: zip.entries.has(SHA256SUMS),
      integrity: await integrityFacts(zip, options.integrity.trustedKeys),
    };
    const { problems, unreadable, metadata } = await readWheelsMetadata(zip, wheelPaths);
    facts.wheelReads = { problems, unreadable };
    // Which SDK a wheel is must be read from a wheel that is what its name says (a forged one is refused first).
    facts.ourSdkWheels = await ourSdkWheels(zip, wheelPaths);
    const trusted = judgeIntegrity(facts.integrity!, options.integrity).problems.length === 0;
    try {
      const target = await options.target(zip, trusted);
      if (target !== undefined) context.target = target;
    } catch (err) {
      if (!isProcVisionError(err)) throw err;
      context.targetError = err;
    }
    return { zip, acceptance: judgePackage(facts, context), metadata, runnerSdk };
  } catch (err) {
    zip.close();
    throw err;
  }
}
