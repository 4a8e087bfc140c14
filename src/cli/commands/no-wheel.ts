import { formatRequirement } from "../../requirements/parse.js";
import type { RequirementMatch } from "../../wheel-tags/match.js";

/** The target as the no-wheel paragraph names it. */
export interface TargetLabel {
  pythonVersion: string;
  implementation: string;
  abi: string;
  wheelsPlatform: readonly string[];
}

export interface PipNoMatch {
  requirement: string;
  /** Versions pip saw for any target ("from versions: ..."); empty when the name is unknown to the index. */
  versions: string[];
}

/** Finds pip's "Could not find a version that satisfies the requirement X (from versions: ...)" in its output. */
export function parsePipNoMatch(output: string): PipNoMatch | undefined {
  const satisfies = /Could not find a version that satisfies the requirement (\S+)(?: \(from versions: ([^)]*)\))?/.exec(output);
  const noMatch = /No matching distribution found for (\S+)/.exec(output);
  const requirement = satisfies?.[1] ?? noMatch?.[1];
  if (requirement === undefined) return undefined;
  const listed = satisfies?.[2]?.trim() ?? "";
  return { requirement, versions: listed === "" || listed === "none" ? [] : listed.split(/,\s*/) };
}

/**
 * Why pip could not reach an index, when its output says so: an unreachable index makes pip report "no matching
 * distribution" as well, which would send the author hunting for a wheel that exists.
 */
export function parsePipUnreachable(output: string): string | undefined {
  const broken = /after connection broken by '(?:\w+Error\('[^:]*: )?([^']+?)'\)?':? (\S+)/.exec(output);
  if (broken?.[1] !== undefined) return `${broken[1].replace(/^Failed to establish a new connection: /, "")} (${broken[2] ?? "index"})`;
  const fetch = /Could not fetch URL (\S+?):? (.+?)(?: - skipping)?$/m.exec(output);
  return fetch === null ? undefined : `${fetch[2]} (${fetch[1]})`;
}

export function describeTarget(target: TargetLabel): string {
  return `Python ${target.pythonVersion} (${target.implementation}, ABI ${target.abi}) on ${target.wheelsPlatform.join(", ")}`;
}

const ADVICE = "What to do: pin a version that publishes a wheel for this target, build the wheel yourself and pass its "
  + "folder with --find-links, or package for another target with -w/-p/-i/-b (or .procvision_env.json).";

/** One readable paragraph for "pip download found nothing for X on target Y" (contract §2 package step 3). */
export function noWheelParagraph(failure: PipNoMatch, target: TargetLabel, sources: readonly string[]): string {
  const seen = failure.versions.length > 0
    ? `The index has ${failure.requirement.split(/[=<>!~;\s[]/)[0]} in versions ${failure.versions.slice(-8).join(", ")}, but none of them as a wheel for this target`
    : "The index has no wheel of it at all for this target (or does not know the name)";
  return `No wheel of ${failure.requirement} for ${describeTarget(target)}. ${seen} (looked in: ${sources.join(", ")}). ${ADVICE}`;
}

/** The same paragraph for wheels already in wheels/ (--skip-download) that do not cover the requirements. */
export function uncoveredParagraph(matches: readonly RequirementMatch[], target: TargetLabel): string | undefined {
  const problems = matches.filter((m) => m.applies && m.wheel === undefined).map((m) => {
    const name = formatRequirement(m.requirement);
    return m.reason === "incompatible"
      ? `${name} only has wheels for other targets (${m.candidates.join(", ")})`
      : `${name} has no wheel in wheels/`;
  });
  if (problems.length === 0) return undefined;
  return `No wheel for ${describeTarget(target)}: ${problems.join("; ")}. ${ADVICE}`;
}
