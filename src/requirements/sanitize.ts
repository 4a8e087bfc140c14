import { formatRequirement, parseRequirementLine, type DroppedLine, type Requirement } from "./parse.js";

export interface SanitizedRequirements {
  requirements: Requirement[];
  /** One canonical line per requirement, newline-terminated; what goes into the package. */
  text: string;
  /** Options and lines that are not requirements, with the reason (blank lines and comments are dropped silently). */
  dropped: DroppedLine[];
  /** Requirements not pinned to exactly one version (`==X` or `===X`): the package cannot reproduce them. */
  unpinned: Requirement[];
}

/** Physical lines with trailing-backslash continuations joined, numbered by the line they start on (pip's rule). */
export function logicalLines(text: string): { line: string; lineNumber: number }[] {
  const out: { line: string; lineNumber: number }[] = [];
  let pending: string[] = [];
  let start = 0;
  text.split(/\r?\n/).forEach((physical, index) => {
    if (pending.length === 0) start = index + 1;
    const continues = physical.endsWith("\\") && !/^\s*#/.test(physical);
    pending.push(continues ? physical.slice(0, -1) : physical);
    if (!continues) {
      out.push({ line: pending.join(" "), lineNumber: start });
      pending = [];
    }
  });
  if (pending.length > 0) out.push({ line: pending.join(" "), lineNumber: start });
  return out;
}

/** Contract §2 package step 2: a requirements file reduced to the requirements a wheel download needs. */
export function sanitizeRequirements(text: string): SanitizedRequirements {
  const requirements: Requirement[] = [];
  const dropped: DroppedLine[] = [];
  for (const { line, lineNumber } of logicalLines(text)) {
    const parsed = parseRequirementLine(line);
    if (parsed.ok) requirements.push(parsed.requirement);
    else if (parsed.kind !== "empty") dropped.push({ line: line.trim(), lineNumber, reason: parsed.reason });
  }
  return {
    requirements,
    text: requirements.map((r) => `${formatRequirement(r)}\n`).join(""),
    dropped,
    unpinned: requirements.filter((r) => r.pinnedVersion === undefined),
  };
}

/**
 * The dropped lines that stood for a requirement: not a requirement at all (a typo such as `six 1.16.0`, a path or a
 * VCS URL) or an editable, nested or constraint file. Installing without them would be silently incomplete, so
 * `package` and the runner refuse them; index options and hashes are dropped harmlessly.
 */
export function unsatisfiableLines(dropped: readonly DroppedLine[]): DroppedLine[] {
  return dropped.filter((d) => !d.line.startsWith("-") || /^(-e|--editable|-r|--requirement|-c|--constraint)\b/.test(d.line));
}
