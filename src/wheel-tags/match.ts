import { eq, explain, rcompare, satisfies } from "@renovatebot/pep440";
import { evaluateMarker, type MarkerEnvironment } from "../requirements/markers.js";
import type { Requirement } from "../requirements/parse.js";
import { parseWheelFilename, type WheelFilename } from "./filename.js";
import { pythonVersionParts, supportedTags, type WheelTarget } from "./supported.js";

export interface RequirementMatch {
  requirement: Requirement;
  /** False when the requirement's marker excludes the target: it needs no wheel. */
  applies: boolean;
  /** The best wheel for the target (as given in the list). */
  wheel?: string;
  /** `missing`: no wheel of that name and version (2004); `incompatible`: only wheels for other targets (2003). */
  reason?: "missing" | "incompatible";
  /** Wheels with the right name and version whose tags do not fit the target. */
  candidates: string[];
}

const OPERATING_SYSTEMS: [RegExp, Pick<MarkerEnvironment, "sys_platform" | "platform_system">][] = [
  [/^win/, { sys_platform: "win32", platform_system: "Windows" }],
  [/^(linux|manylinux|musllinux)/, { sys_platform: "linux", platform_system: "Linux" }],
  [/^macosx/, { sys_platform: "darwin", platform_system: "Darwin" }],
];

/** The marker variables a target determines; the OS ones only when all its platforms agree on one. */
export function markerEnvironment(target: Pick<WheelTarget, "pythonVersion" | "platforms">): MarkerEnvironment {
  const env: MarkerEnvironment = { python_version: pythonVersionParts(target.pythonVersion).join(".") };
  const systems = new Set(target.platforms.map((p) => OPERATING_SYSTEMS.find(([pattern]) => pattern.test(p))?.[1]));
  const [only] = systems;
  return systems.size === 1 && only !== undefined ? { ...env, ...only } : env;
}

/** Whether a wheel version satisfies a requirement's specifier (a pin accepts local builds of that version). */
export function versionMatches(requirement: Requirement, version: string): boolean {
  const pin = requirement.pinnedVersion;
  if (pin === undefined) return requirement.specifier === "" || satisfies(version, requirement.specifier);
  if (requirement.specifier.startsWith("===")) return version === pin;
  // PEP 440: a pin without a local label (==2.5.1) also accepts local builds (2.5.1+cu121).
  return eq(explain(pin)?.local ? version : explain(version)?.public ?? version, pin);
}

export interface RankedWheel {
  file: string;
  wheel: WheelFilename;
  /** The wheel's best tag's place in the target's preference order (0 = best); Infinity when no tag fits. */
  rank: number;
}

/** The wheels among `wheelFileNames` (other names are ignored), each ranked for the target. */
export function rankWheels(wheelFileNames: readonly string[], target: WheelTarget): RankedWheel[] {
  const rank = new Map(supportedTags(target).map((tag, index) => [tag, index]));
  return wheelFileNames.flatMap((file) => {
    const parsed = parseWheelFilename(file);
    return parsed.ok ? [{ file, wheel: parsed.wheel, rank: Math.min(...parsed.wheel.tags.map((t) => rank.get(t) ?? Infinity)) }] : [];
  });
}

/** Best first: the highest version, then the best tag (packaging's preference order). */
export function byPreference(a: RankedWheel, b: RankedWheel): number {
  return rcompare(a.wheel.version, b.wheel.version) || a.rank - b.rank;
}

/**
 * For each requirement, the wheel that installs it on the target, or why there is none. Names compare in PEP 503
 * form, versions as PEP 440; requirements whose marker excludes the target need no wheel. Among fitting wheels the
 * highest version wins, then the best tag (packaging's preference order). Names that are not wheels are ignored.
 */
export function matchRequirementsToWheels(
  requirements: readonly Requirement[],
  wheelFileNames: readonly string[],
  target: WheelTarget,
): RequirementMatch[] {
  const env = markerEnvironment(target);
  const wheels = rankWheels(wheelFileNames, target);

  return requirements.map((requirement) => {
    if (requirement.marker !== undefined && !evaluateMarker(requirement.marker, env)) {
      return { requirement, applies: false, candidates: [] };
    }
    const named = wheels.filter((w) => w.wheel.normalizedName === requirement.normalizedName && versionMatches(requirement, w.wheel.version));
    const fitting = named
      .filter((w) => w.rank !== Infinity)
      .sort(byPreference);
    const candidates = named.filter((w) => w.rank === Infinity).map((w) => w.file);
    const [best] = fitting;
    if (best) return { requirement, applies: true, wheel: best.file, candidates };
    return { requirement, applies: true, reason: named.length === 0 ? "missing" : "incompatible", candidates };
  });
}
