import { expandPlatforms } from "./platforms.js";
import { parseWheelFilename } from "./filename.js";

/** What a wheel has to fit: an interpreter (`3.10`, `cp`, `cp310`) and the platforms it runs on. */
export interface WheelTarget {
  pythonVersion: string;
  implementation: string;
  abi: string;
  platforms: readonly string[];
}

/** `"3.10"` or `"3.10.4"` → `[3, 10]`. */
export function pythonVersionParts(version: string): [major: number, minor: number] {
  const m = /^(\d+)\.(\d+)(?:\.\d+)?$/.exec(version);
  if (!m) throw new Error(`expected a Python version like "3.10", got ${JSON.stringify(version)}`);
  return [Number(m[1]), Number(m[2])];
}

/** `"3.10"` → `"310"`, the form in tags. */
export function versionNodot(version: string): string {
  return pythonVersionParts(version).join("");
}

/** `py310`, `py3`, `py39` … `py30`: the pure-Python interpreters a version accepts, best first. */
function pythonRange(major: number, minor: number): string[] {
  const older = Array.from({ length: minor }, (_, i) => `py${major}${minor - 1 - i}`);
  return [`py${major}${minor}`, `py${major}`, ...older];
}

function* interpreterTags(target: WheelTarget, major: number, minor: number, platforms: string[]): Generator<string> {
  const interpreter = `${target.implementation}${major}${minor}`;
  const specific = target.abi === "abi3" || target.abi === "none" ? [] : [target.abi];
  if (target.implementation !== "cp") {
    for (const abi of [...specific, "none"]) for (const p of platforms) yield `${interpreter}-${abi}-${p}`;
    return;
  }
  // Free-threaded builds (cp313t) cannot load the stable ABI.
  const abi3 = major === 3 && minor >= 2 && !/^cp\d+[a-z]*t/.test(target.abi);
  for (const abi of specific) for (const p of platforms) yield `${interpreter}-${abi}-${p}`;
  if (abi3) for (const p of platforms) yield `${interpreter}-abi3-${p}`;
  for (const p of platforms) yield `${interpreter}-none-${p}`;
  if (abi3) for (let m = minor - 1; m >= 2; m--) for (const p of platforms) yield `cp${major}${m}-abi3-${p}`;
}

/**
 * The tags a target accepts, best first, in the order packaging.tags gives for an interpreter (cpython_tags or
 * generic_tags, then compatible_tags): `cp310-cp310-P`, `cp310-abi3-P`, `cp310-none-P`, `cp39…cp32-abi3-P`,
 * `py310/py3/py39…-none-P`, `cp310-none-any`, `py310/py3/…-none-any`, with manylinux platforms expanded.
 */
export function supportedTags(target: WheelTarget): string[] {
  const [major, minor] = pythonVersionParts(target.pythonVersion);
  const platforms = expandPlatforms(target.platforms);
  const range = pythonRange(major, minor);
  return [
    ...interpreterTags(target, major, minor, platforms),
    ...range.flatMap((py) => platforms.map((p) => `${py}-none-${p}`)),
    `${target.implementation}${major}${minor}-none-any`,
    ...range.map((py) => `${py}-none-any`),
  ];
}

/** Whether any tag of the wheel is among `supported`; a name that is not a wheel's is never supported. */
export function wheelSupported(wheelFile: string, supported: ReadonlySet<string> | readonly string[]): boolean {
  const parsed = parseWheelFilename(wheelFile);
  const tags = supported instanceof Set ? supported : new Set(supported);
  return parsed.ok && parsed.wheel.tags.some((t) => tags.has(t));
}
