import { satisfies, validRange } from "@renovatebot/pep440";
import { ErrorCode, ProcVisionError } from "../../errors/index.js";
import { formatRequirement, normalizeName, parseRequirementLine, pinRequirement, type Requirement } from "../../requirements/index.js";
import { matchRequirementsToWheels, parseWheelFilename, versionMatches, type WheelTarget } from "../../wheel-tags/index.js";
import type { Problem } from "./findings.js";

export const SDK_NAME = "procvision_algorithm_sdk";
const SDK = normalizeName(SDK_NAME);

/** The runner's own SDK wheel (bundled with the product) and what its METADATA asks of an interpreter. */
export interface RunnerSdk {
  file: string;
  version: string;
  requiresDist: readonly string[];
  requiresPython?: string;
}

export interface SdkPlanInput {
  /** requirements.txt of the package, sanitized. */
  requirements: readonly Requirement[];
  /** File names in wheels/. */
  wheelFiles: readonly string[];
  /** The SDK wheels among `wheelFiles` that are this product's (they carry its adapter); the others are the original SDK. */
  ours: ReadonlySet<string>;
  runnerSdk: RunnerSdk;
}

export interface SdkPlan {
  /** The requirements to install: the SDK pinned to a wheel of ours. */
  requirements: Requirement[];
  /** The wheels to install from: the original SDK's left out, the runner's added when it is used. */
  wheelFiles: string[];
  /** The runner's bundled SDK wheel is installed (it is not in the package). */
  usesRunnerSdk: boolean;
  /** Says what was replaced or added; undefined when the package's own SDK (ours) is installed as it is. */
  warning?: string;
}

const isSdkWheel = (file: string): boolean => {
  const parsed = parseWheelFilename(file);
  return parsed.ok && parsed.wheel.normalizedName === SDK;
};

const versionOf = (file: string): string => {
  const parsed = parseWheelFilename(file);
  return parsed.ok ? parsed.wheel.version : "?";
};

/**
 * Which SDK a package's workers get (contract §5a, pure). Workers start `python -m procvision_algorithm_sdk.adapter`
 * with this product's arguments, which only this product's SDK understands. Zips of the original tools pin and ship
 * the original SDK (no such adapter): it is left out and the runner's SDK pinned instead. A package whose
 * requirements do not name the SDK gets one too (a wheel of ours from the package, else the runner's), since no
 * worker can start without it. A package that pins an SDK wheel of ours which it ships keeps it, silently.
 */
export function planSdk(input: SdkPlanInput): SdkPlan {
  const named = input.requirements.filter((r) => r.normalizedName === SDK);
  const sdkWheels = input.wheelFiles.filter(isSdkWheel);
  const original = sdkWheels.filter((w) => !input.ours.has(w));
  const ours = sdkWheels.filter((w) => input.ours.has(w));
  const others = input.wheelFiles.filter((w) => !isSdkWheel(w));
  const runner = input.runnerSdk;

  const fitting = ours.find((w) => named.every((r) => versionMatches(r, versionOf(w))));
  if (named.length > 0 && fitting !== undefined) return { requirements: [...input.requirements], wheelFiles: [...others, ...ours], usesRunnerSdk: false };
  if (named.length === 0 && ours.length > 0) {
    const wheel = ours[0]!;
    return {
      requirements: pinRequirement(input.requirements, SDK_NAME, versionOf(wheel)), wheelFiles: [...others, ...ours], usesRunnerSdk: false,
      warning: `requirements.txt does not name ${SDK_NAME}: its wheel in the package (${wheel}) is installed too (workers cannot start without its adapter)`,
    };
  }
  const pins = named.map(formatRequirement).join(", ");
  const warning = named.length === 0
    ? `requirements.txt does not name ${SDK_NAME}: the runner's SDK ${runner.version} is installed too (workers cannot start without its adapter)`
    : original.length > 0
      ? `the package pins ${pins} and ships ${original.join(", ")}, the original ProcVision SDK (it has no adapter for this runner): replaced by the runner's SDK ${runner.version}`
      : `the package pins ${pins} but ships no wheel of it: the runner's SDK ${runner.version} is installed instead`;
  return {
    requirements: pinRequirement(input.requirements, SDK_NAME, runner.version),
    wheelFiles: [...others, runner.file], usesRunnerSdk: true, warning,
  };
}

const REPLACE_HINT = "rebuild the package with procvision-cli package (it ships this product's SDK and its dependencies), or install it on a runner whose Python fits";

/**
 * The runner's SDK must install where it replaces or joins a package's: its Requires-Python fits the interpreter
 * (2003) and every dependency it declares has a wheel in the package for that interpreter (2004/2003). Judged before
 * anything is written, so a package whose SDK cannot be replaced leaves the store untouched.
 */
export function checkRunnerSdkInstalls(runner: RunnerSdk, wheelFiles: readonly string[], interpreter: WheelTarget, interpreterPath: string): Problem | undefined {
  const python = interpreter.pythonVersion;
  if (runner.requiresPython !== undefined && validRange(runner.requiresPython) && !satisfies(`${python}${/^\d+\.\d+$/.test(python) ? ".0" : ""}`, runner.requiresPython)) {
    return {
      check: "wheels_match_target",
      error: new ProcVisionError(ErrorCode.incompatible_python,
        `the package's ${SDK_NAME} must be replaced by the runner's SDK ${runner.version}, which requires Python ${runner.requiresPython}; this runner's ${interpreterPath} is Python ${python}`,
        { hint: REPLACE_HINT }),
    };
  }
  const dependencies = runner.requiresDist.flatMap((line) => {
    const parsed = parseRequirementLine(line);
    return parsed.ok ? [parsed.requirement] : [];
  });
  const unmet = matchRequirementsToWheels(dependencies, wheelFiles, interpreter).filter((m) => m.applies && m.wheel === undefined);
  if (unmet.length > 0) {
    const names = unmet.map((m) => formatRequirement(m.requirement));
    const incompatible = unmet.every((m) => m.reason === "incompatible");
    return {
      check: incompatible ? "wheels_match_target" : "wheels_cover_requirements",
      error: new ProcVisionError(incompatible ? ErrorCode.incompatible_python : ErrorCode.wheels_missing,
        `the package's ${SDK_NAME} must be replaced by the runner's SDK ${runner.version}, which needs ${names.join(", ")}: `
        + `the package has no wheel of ${unmet.length === 1 ? "it" : "them"} for this runner's ${interpreterPath}`,
        { hint: REPLACE_HINT, details: { missing: names } }),
    };
  }
  return undefined;
}
