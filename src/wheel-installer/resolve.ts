import { satisfies, validRange } from "@renovatebot/pep440";
import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { evaluateMarker, formatRequirement, normalizeName, parseRequirementLine, type MarkerEnvironment, type Requirement } from "../requirements/index.js";
import { byPreference, versionMatches, type RankedWheel } from "../wheel-tags/index.js";
import type { CoreMetadata } from "./metadata.js";

export interface ResolveInput {
  /** The package's requirements.txt, sanitized. */
  requirements: readonly Requirement[];
  /** Every wheel of the package, ranked for the venv's interpreter. */
  wheels: readonly RankedWheel[];
  /** METADATA of each wheel, by file name. */
  metadata: ReadonlyMap<string, CoreMetadata>;
  /** The venv's complete marker environment. */
  markers: MarkerEnvironment;
}

export interface ResolvedWheel {
  file: string;
  /** The distribution's normalized name. */
  name: string;
  /** Its name as the first requirement that named it wrote it (pip names the headers directory so). */
  writtenName: string;
  /** Named by requirements.txt (pip writes REQUESTED for these), not only pulled in as a dependency. */
  requested: boolean;
  /** Normalized names of the distributions it depends on here (its Requires-Dist that apply). */
  dependencies: string[];
}

const REBUILD = "rebuild the package with procvision-cli package, which downloads every dependency's wheel, or add the missing wheel to wheels/";

/** A requirement applies when its marker holds without an extra, or with one of the extras asked of its parent. */
function applies(requirement: Requirement, markers: MarkerEnvironment, extras: ReadonlySet<string>): boolean {
  if (requirement.marker === undefined) return true;
  return ["", ...extras].some((extra) => evaluateMarker(requirement.marker!, { ...markers, extra }));
}

function dependenciesOf(file: string, metadata: CoreMetadata | undefined): Requirement[] {
  return (metadata?.requiresDist ?? []).map((line) => {
    const parsed = parseRequirementLine(line);
    if (!parsed.ok) {
      throw new ProcVisionError(ErrorCode.install_failed, `${file} declares a dependency that is not a requirement: ${JSON.stringify(line)} (${parsed.reason})`, {
        hint: "the wheel is broken: rebuild the package from a working wheel of it",
      });
    }
    return parsed.requirement;
  });
}

/**
 * What pip would install from wheels/ for requirements.txt, without pip: the requirements and, through each wheel's
 * Requires-Dist (markers decided for this venv, extras followed), everything they depend on, one wheel per
 * distribution: the best that fits the version asked for. Offline packages hold exactly one version of each
 * dependency, so the first choice is final (no backtracking). Missing or conflicting dependencies → 2004 naming
 * them and who needs them; a wheel whose Requires-Python excludes the interpreter → 2003.
 */
export function resolveWheels(input: ResolveInput): ResolvedWheel[] {
  const chosen = new Map<string, { wheel: RankedWheel; writtenName: string; requested: boolean; extras: Set<string>; neededBy: string; dependencies: Set<string> }>();
  const queue: { requirement: Requirement; neededBy: string | null }[] = input.requirements
    .filter((requirement) => applies(requirement, input.markers, new Set()))
    .map((requirement) => ({ requirement, neededBy: null }));
  const pythonVersion = input.markers.python_full_version;

  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const { requirement, neededBy } = next;
    const who = neededBy === null ? "requirements.txt" : neededBy;
    const extras = new Set(requirement.extras.map(normalizeName));
    const existing = chosen.get(requirement.normalizedName);
    if (existing !== undefined) {
      if (!versionMatches(requirement, existing.wheel.wheel.version)) {
        throw new ProcVisionError(ErrorCode.wheels_missing,
          `${who} needs ${formatRequirement(requirement)}, but the package's wheel is ${existing.wheel.file} (needed by ${existing.neededBy})`,
          { hint: REBUILD, details: { requirement: requirement.raw, wheel: existing.wheel.file } });
      }
      if (neededBy === null) existing.requested = true;
      const added = [...extras].filter((e) => !existing.extras.has(e));
      if (added.length === 0) continue;
      for (const e of added) existing.extras.add(e);
      // Newly asked extras may pull in more dependencies.
      for (const dep of dependenciesOf(existing.wheel.file, input.metadata.get(existing.wheel.file))) {
        if (dep.marker !== undefined && applies(dep, input.markers, new Set(added)) && !applies(dep, input.markers, new Set())) {
          queue.push({ requirement: dep, neededBy: existing.wheel.file });
          existing.dependencies.add(dep.normalizedName);
        }
      }
      continue;
    }
    const named = input.wheels.filter((w) => w.wheel.normalizedName === requirement.normalizedName && versionMatches(requirement, w.wheel.version));
    const [best] = named.filter((w) => w.rank !== Infinity).sort(byPreference);
    if (best === undefined) {
      if (named.length > 0) {
        throw new ProcVisionError(ErrorCode.incompatible_python,
          `${who} needs ${formatRequirement(requirement)}, and the package's wheels of it do not install on this interpreter: ${named.map((w) => `${w.file} (tags ${w.wheel.tags.join(", ")})`).join("; ")}`,
          { hint: "rebuild the package for this station's Python and platform with procvision-cli package" });
      }
      throw new ProcVisionError(ErrorCode.wheels_missing, `the package has no wheel for ${formatRequirement(requirement)}, which ${who} needs`, {
        hint: REBUILD, details: { missing: [formatRequirement(requirement)], needed_by: who },
      });
    }
    const metadata = input.metadata.get(best.file);
    const requiresPython = metadata?.requiresPython;
    if (requiresPython !== undefined && pythonVersion !== undefined && validRange(requiresPython) && !satisfies(pythonVersion, requiresPython)) {
      throw new ProcVisionError(ErrorCode.incompatible_python,
        `${best.file} requires Python ${requiresPython}; this interpreter is Python ${pythonVersion}`,
        { hint: "rebuild the package for this station's Python with procvision-cli package (--python-version)" });
    }
    const dependencies = new Set<string>();
    chosen.set(requirement.normalizedName, { wheel: best, writtenName: requirement.name, requested: neededBy === null, extras, neededBy: who, dependencies });
    for (const dep of dependenciesOf(best.file, metadata)) {
      if (!applies(dep, input.markers, extras)) continue;
      queue.push({ requirement: dep, neededBy: best.file });
      dependencies.add(dep.normalizedName);
    }
  }
  return [...chosen].map(([name, c]) => ({ file: c.wheel.file, name, writtenName: c.writtenName, requested: c.requested, dependencies: [...c.dependencies] }));
}
