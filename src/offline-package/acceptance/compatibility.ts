import { ErrorCode, ProcVisionError } from "../../errors/index.js";
import { parseJson } from "../../manifest/index.js";
import { formatRequirement, sanitizeRequirements, unsatisfiableLines, type Requirement } from "../../requirements/index.js";
import { parseTargetEnv } from "../../target-env/index.js";
import type { Findings, Problem, Warning } from "./findings.js";
import { checkRunnerSdkInstalls, planSdk, type RunnerSdk } from "./sdk-replacement.js";
import { expandPlatforms, matchRequirementsToWheels, parseWheelFilename, supportedTags, type WheelTarget } from "../../wheel-tags/index.js";

export interface CompatibilityInput {
  /** requirements.txt of the package; null when it has none. */
  requirementsText: string | null;
  /** File names in wheels/. */
  wheelFiles: readonly string[];
  /** What the runner's interpreter accepts, probed from the interpreter itself. */
  interpreter: WheelTarget;
  /** The interpreter's path, for messages. */
  interpreterPath: string;
  /** What that interpreter is, for messages: "this runner's interpreter" unless the package embeds its runtime. */
  interpreterRole?: string;
  /** How to rebuild a package that does not fit, when not the usual retargeting. */
  rebuildHint?: string;
  /** `.procvision_env.json` text; null when the package has none. */
  envFileText: string | null;
  /** The zip carries SHA256SUMS (built by procvision-cli package): its env file is binding. */
  checksums: boolean;
  /** The SDK wheels in wheels/ that are this product's (see ourSdkWheels). */
  ourSdkWheels: ReadonlySet<string>;
  /** The runner's own SDK, which replaces the original one. */
  runnerSdk: RunnerSdk;
}

export interface CompatibilityPlan {
  requirements: Requirement[];
  /** The sanitized requirements pip/uv get: options in the package's file (`--index-url`, `-r`) never reach them. */
  requirementsText: string;
  /** requirement (as written) → the wheel that installs it. */
  wheels: Record<string, string>;
  /** The wheels/ files to install from (the original SDK's left out) and whether the runner's SDK wheel joins them. */
  wheelFiles: string[];
  usesRunnerSdk: boolean;
}

/** The judgement: the plan (when requirements.txt could be read) and the findings; install only without problems. */
export interface Compatibility extends Findings {
  plan?: CompatibilityPlan;
}

const REBUILD = "rebuild the package for this station with procvision-cli package (--python-version/--abi/--wheels-platform, or .procvision_env.json)";

export function describeTarget(t: WheelTarget): string {
  return `Python ${t.pythonVersion} ${t.implementation}/${t.abi} on ${t.platforms.join(", ")}`;
}

/** A few of the interpreter's tags, best first, for a message; the full list goes into details. */
function sampleTags(tags: readonly string[]): string {
  const shown = [...tags.slice(0, 3), ...tags.filter((t) => /^py\d+-none-any$/.test(t)).slice(0, 2)];
  return `${[...new Set(shown)].join(", ")}, … (${tags.length} tags)`;
}

function wheelTags(file: string): string[] {
  const parsed = parseWheelFilename(file);
  return parsed.ok ? parsed.wheel.tags : [];
}

/**
 * Where `.procvision_env.json` disagrees with the interpreter (pure): `invalid` when it cannot be read, else the
 * fields that name another target (empty: it agrees). The platform only counts when some wheel is not pure.
 */
function envFileDisagreement(text: string, interpreter: WheelTarget, wheelFiles: readonly string[]): { invalid: string } | { problems: string[]; target: unknown } {
  const json = parseJson(text);
  const parsed = json.ok ? parseTargetEnv(json.value) : undefined;
  if (!json.ok || !parsed?.ok) {
    return { invalid: !json.ok ? `not valid JSON (line ${json.line}, column ${json.column}: ${json.message})` : parsed && !parsed.ok ? parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; ") : "" };
  }
  const env = parsed.data;
  const problems: string[] = [];
  const [major, minor] = interpreter.pythonVersion.split(".");
  if (env.python_version !== undefined && env.python_version.split(".").slice(0, 2).join(".") !== `${major}.${minor}`) {
    problems.push(`python_version ${env.python_version} (this interpreter: ${interpreter.pythonVersion})`);
  }
  if (env.implementation !== undefined && env.implementation !== interpreter.implementation) {
    problems.push(`implementation ${env.implementation} (this interpreter: ${interpreter.implementation})`);
  }
  if (env.abi !== undefined && !["abi3", "none"].includes(env.abi) && env.abi !== interpreter.abi) {
    problems.push(`abi ${env.abi} (this interpreter: ${interpreter.abi})`);
  }
  const platforms = env.wheels_platform === undefined ? [] : [env.wheels_platform].flat();
  // Only pure wheels: the platform the author aimed at does not matter on this station.
  const allPure = wheelFiles.every((w) => wheelTags(w).every((t) => t.endsWith("-any")));
  if (platforms.length > 0 && !allPure) {
    const ours = new Set(expandPlatforms(interpreter.platforms));
    if (!expandPlatforms(platforms).some((p) => ours.has(p))) problems.push(`wheels_platform ${platforms.join(", ")} (this interpreter: ${interpreter.platforms.join(", ")})`);
  }
  return { problems, target: env };
}

/**
 * The package's target environment against the interpreter. A package of ours (with SHA256SUMS) was built for what its
 * env file says: a disagreement is 2003 (2001 when unreadable). Other tools' zips carry an env file that may be stale
 * (the original packer copied it whatever its flags said): the wheels' tags, checked already, decide, and the env
 * file's disagreement is a warning.
 */
function judgeEnvFile(text: string, interpreter: WheelTarget, interpreterPath: string, wheelFiles: readonly string[], checksums: boolean,
  role = "this runner's interpreter", hint = REBUILD): { problem?: ProcVisionError; warnings: string[] } {
  const found = envFileDisagreement(text, interpreter, wheelFiles);
  if ("invalid" in found) {
    if (!checksums) return { warnings: [`.procvision_env.json in the package is invalid (${found.invalid}): ignored, the wheels' tags fit this interpreter`] };
    return { problem: new ProcVisionError(ErrorCode.invalid_zip, `.procvision_env.json in the package is invalid: ${found.invalid}`, { hint }), warnings: [] };
  }
  if (found.problems.length === 0) return { warnings: [] };
  if (!checksums) {
    return { warnings: [`.procvision_env.json says ${found.problems.join("; ")}, but the package's wheels install on this interpreter: judged by the wheels' tags (the original packer copies the env file unchanged)`] };
  }
  return {
    problem: new ProcVisionError(ErrorCode.incompatible_python,
      `the package was built for another Python than ${role} ${interpreterPath}: .procvision_env.json says ${found.problems.join("; ")}`,
      { hint, details: { target: found.target, interpreter } }),
    warnings: [],
  };
}

/**
 * Install step 2a (pure): every requirement has a wheel in the package (2004 naming the requirement) that installs on
 * the interpreter (2003 naming the wheel's tags and the interpreter's), with this product's SDK in place of the
 * original one (see planSdk), and the package's target environment is this interpreter (judgeEnvFile). A package of
 * ours pins every requirement with == (contract §1); another tool's unpinned lines are only said. Every finding is
 * collected (validate reports them all; the store refuses with the first).
 */
export function judgeCompatibility(input: CompatibilityInput): Compatibility {
  const problems: Problem[] = [];
  const warnings: Warning[] = [];
  const problem = (check: Problem["check"], code: string, message: string, options: { hint: string; details?: Record<string, unknown> }): void => {
    problems.push({ check, error: new ProcVisionError(code, message, options) });
  };
  if (input.requirementsText === null) {
    problem("zip_requirements", ErrorCode.invalid_zip, "the package has no requirements.txt: what to install from wheels/ is unknown", { hint: REBUILD });
    return { problems, warnings };
  }
  const sanitized = sanitizeRequirements(input.requirementsText);
  const unsatisfiable = unsatisfiableLines(sanitized.dropped);
  if (unsatisfiable.length > 0) {
    problem("zip_requirements", ErrorCode.wheels_missing,
      `requirements.txt has lines that cannot be installed from wheels/: ${unsatisfiable.map((d) => `line ${d.lineNumber} "${d.line}" (${d.reason})`).join("; ")}`,
      { hint: "pin every requirement as name==version and ship its wheel in wheels/ (procvision-cli package does)" });
  }
  for (const d of sanitized.dropped) {
    if (!unsatisfiable.includes(d)) warnings.push({ check: "zip_requirements", message: `requirements.txt line ${d.lineNumber} ignored: ${d.line} (${d.reason})` });
  }
  const urls = sanitized.requirements.filter((r) => r.url !== undefined);
  if (urls.length > 0) {
    problem("requirements_pinned", ErrorCode.wheels_missing, `requirements with a URL cannot be installed offline: ${urls.map((r) => r.raw).join(", ")}`, {
      hint: "pin them as name==version and ship their wheels in wheels/ (procvision-cli package does)",
    });
  }
  const unpinned = sanitized.requirements.filter((r) => r.url === undefined && r.pinnedVersion === undefined);
  if (unpinned.length > 0) {
    const message = `not pinned to one version: ${unpinned.map(formatRequirement).join(", ")}`;
    if (input.checksums) {
      problem("requirements_pinned", ErrorCode.invalid_zip, `${message} (an offline package pins every requirement with ==)`, {
        hint: "pin each requirement as name==version and rebuild the package with procvision-cli package",
      });
    } else warnings.push({ check: "requirements_pinned", message: `${message}: installed from the wheel in wheels/ that satisfies it` });
  }
  const badNames = input.wheelFiles.filter((w) => !parseWheelFilename(w).ok);
  if (badNames.length > 0) warnings.push({ check: "zip_wheels", message: `not wheel file names, ignored: ${badNames.join(", ")}` });

  const sdk = planSdk({ requirements: sanitized.requirements, wheelFiles: input.wheelFiles, ours: input.ourSdkWheels, runnerSdk: input.runnerSdk });
  if (sdk.warning !== undefined) warnings.push({ check: "zip_wheels", message: sdk.warning });
  const wheelFiles = sdk.wheelFiles;
  const role = input.interpreterRole ?? "this runner's interpreter";
  const hint = input.rebuildHint ?? REBUILD;
  const matches = matchRequirementsToWheels(sdk.requirements, wheelFiles, input.interpreter);
  const missing = matches.filter((m) => m.applies && m.reason === "missing" && m.requirement.url === undefined);
  if (missing.length > 0) {
    const names = missing.map((m) => formatRequirement(m.requirement));
    problem("wheels_cover_requirements", ErrorCode.wheels_missing,
      `the package has no wheel for ${names.join(", ")} (wheels/ holds ${wheelFiles.length === 0 ? "nothing" : wheelFiles.join(", ")})`,
      { hint: "rebuild the package with procvision-cli package, which downloads a wheel for every pinned requirement, or add the missing wheel to wheels/", details: { missing: names } });
  }
  const incompatible = matches.filter((m) => m.applies && m.reason === "incompatible");
  if (incompatible.length > 0) {
    const tags = supportedTags(input.interpreter);
    const wheels = incompatible.flatMap((m) => m.candidates.map((w) => `${w} (tags ${wheelTags(w).join(", ")})`));
    problem("wheels_match_target", ErrorCode.incompatible_python,
      `no wheel for ${incompatible.map((m) => formatRequirement(m.requirement)).join(", ")} installs on ${role}: the package has ${wheels.join("; ")}; `
      + `${input.interpreterPath} (${describeTarget(input.interpreter)}) accepts ${sampleTags(tags)}`,
      {
        hint,
        details: {
          wheels: Object.fromEntries(incompatible.flatMap((m) => m.candidates.map((w) => [w, wheelTags(w)]))),
          interpreter_tags: tags,
        },
      });
  }
  if (sdk.usesRunnerSdk) {
    const sdkProblem = checkRunnerSdkInstalls(input.runnerSdk, wheelFiles, input.interpreter, input.interpreterPath);
    if (sdkProblem !== undefined) problems.push(sdkProblem);
  }
  if (input.envFileText !== null) {
    const env = judgeEnvFile(input.envFileText, input.interpreter, input.interpreterPath, wheelFiles, input.checksums, role, hint);
    if (env.problem !== undefined) problems.push({ check: "wheels_match_target", error: env.problem });
    warnings.push(...env.warnings.map((message) => ({ check: "wheels_match_target" as const, message })));
  }
  return {
    plan: {
      requirements: sdk.requirements,
      requirementsText: sdk.requirements.map((r) => `${formatRequirement(r)}\n`).join(""),
      wheels: Object.fromEntries(matches.filter((m) => m.wheel !== undefined).map((m) => [m.requirement.raw, m.wheel!])),
      wheelFiles, usesRunnerSdk: sdk.usesRunnerSdk,
    },
    problems, warnings,
  };
}
